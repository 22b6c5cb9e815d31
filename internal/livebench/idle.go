package livebench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/web"
)

// Idle is `auditd bench idle`: the resident memory an idle SSE
// connection costs the server. The server (the real HTTP stack and hub)
// runs in this process; the clients run in a child process
// (`auditd bench idle-clients`), so that their sockets and buffers are not
// counted, and so that the two share no open-file limit.
func Idle(ctx context.Context, connections int, stdout, stderr io.Writer) error {
	n := &connections
	if *n < 1 {
		return errors.New("bench idle: --connections must be positive")
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	hub := live.NewHub(live.HubConfig{})
	srv := web.New(web.Config{Listen: "127.0.0.1:0", AuthOff: true /* measures the feed, not sign-in; loopback only */}, web.Deps{Logger: logger, LiveHub: hub})
	if err := srv.Start(ctx); err != nil {
		return err
	}
	addr := srv.Addr()
	defer func() {
		hub.Close()
		srv.Stop()
	}()
	// One connection first, so that what every server pays once (buffers
	// and pools the first request creates) is not counted per connection.
	if err := idleClients(ctx, addr.String(), 1, io.Discard); err != nil {
		return err
	}
	before := rss()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, "bench", "idle-clients", "--addr", addr.String(), "--connections", strconv.Itoa(*n))
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { in.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		return fmt.Errorf("bench idle: the client process did not connect (%q): %v", line, err)
	}
	subscribers := hub.Stats().Subscribers
	after := rss()
	delta := after - before
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	goroutines := runtime.NumGoroutine()
	fmt.Fprintf(stdout, "| Measure | Result |\n|---|---|\n")
	fmt.Fprintf(stdout, "| idle SSE connections (clients in another process) | %d (hub: %d subscribers) |\n", *n, subscribers)
	fmt.Fprintf(stdout, "| server resident set | %.1f MB before, %.1f MB after |\n", float64(before)/(1<<20), float64(after)/(1<<20))
	fmt.Fprintf(stdout, "| growth | %.1f MB, %.1f KB per connection |\n", float64(delta)/(1<<20), float64(delta)/1024/float64(*n))
	perConn := func(now, was uint64) float64 { return (float64(now) - float64(was)) / 1024 / float64(*n) }
	fmt.Fprintf(stdout, "| of which goroutine stacks, heap | %.1f KB, %.1f KB per connection (%d goroutines) |\n",
		perConn(ms.StackInuse, ms0.StackInuse), perConn(ms.HeapInuse, ms0.HeapInuse), goroutines)
	return nil
}

// IdleClients is the client side of `auditd bench idle`: it opens n raw SSE
// connections to addr, waits until each is subscribed, prints "ready" and
// holds them until its standard input closes.
func IdleClients(ctx context.Context, addr string, n int, stdout io.Writer) error {
	return idleClients(ctx, addr, n, stdout)
}

// idleClients opens n raw SSE connections to addr, then reports "ready" to
// ready and keeps them open until standard input closes (or, for a single
// warm-up connection written to io.Discard, returns at once).
func idleClients(ctx context.Context, addr string, n int, ready io.Writer) error {
	var d net.Dialer
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	buf := make([]byte, 512)
	for range n {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("bench idle: connection %d: %w (raise ulimit -n)", len(conns)+1, err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "GET /live/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
			return err
		}
		var got []byte
		for !bytes.Contains(got, []byte(": subscribed")) {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			k, err := c.Read(buf)
			if err != nil {
				return fmt.Errorf("bench idle: connection %d: %w", len(conns), err)
			}
			got = append(got, buf[:k]...)
		}
	}
	if ready == io.Discard {
		return nil
	}
	fmt.Fprintln(ready, "ready")
	_, _ = io.Copy(io.Discard, os.Stdin) // hold until the parent closes it
	return nil
}
