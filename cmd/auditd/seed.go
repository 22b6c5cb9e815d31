package main

import (
	"context"
	"fmt"
	"io"
)

func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("not yet")
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("not yet")
}
