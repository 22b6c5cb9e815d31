package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/schema"
)

const usersUsage = `usage:
  auditd users add NAME --role ROLE [--password-file F]
  auditd users list
  auditd users disable NAME
  auditd users passwd NAME [--password-file F]
`

const tokensUsage = `usage:
  auditd tokens create --user NAME [--expires 720h]
  auditd tokens revoke ID
`

// runUsers manages the users who may sign in.
func runUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, usersUsage)
		return errors.New("users: name a subcommand: add, list, disable or passwd")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add", "list", "disable", "passwd":
	default:
		fmt.Fprint(stderr, usersUsage)
		return fmt.Errorf("users: unknown subcommand %q", sub)
	}
	cfg, svc, closeDB, err := openAccess(ctx, "users "+sub, args, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	switch sub {
	case "add":
		name, err := oneArgument(cfg, "users add", "NAME")
		if err != nil {
			return err
		}
		role, err := access.ParseRole(cfg.Role)
		if err != nil {
			return fmt.Errorf("users add: --role: %w", err)
		}
		pw, err := readPassword(cfg.PasswordFile, stderr)
		if err != nil {
			return err
		}
		if _, err := svc.AddUser(ctx, name, role, pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added user %s with the %s role\n", name, role)
	case "list":
		users, err := svc.Users(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tROLE\tSTATUS\tCREATED")
		for _, u := range users {
			status := "active"
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Name, u.Role, status, u.CreatedAt.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	case "disable":
		name, err := oneArgument(cfg, "users disable", "NAME")
		if err != nil {
			return err
		}
		if err := svc.DisableUser(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "disabled user %s: their sessions are ended and their tokens no longer work\n", name)
	case "passwd":
		name, err := oneArgument(cfg, "users passwd", "NAME")
		if err != nil {
			return err
		}
		pw, err := readPassword(cfg.PasswordFile, stderr)
		if err != nil {
			return err
		}
		if err := svc.SetPassword(ctx, name, pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "changed the password of %s: their sessions are ended\n", name)
	}
	return nil
}

// runTokens manages API tokens.
func runTokens(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "revoke") {
		fmt.Fprint(stderr, tokensUsage)
		return errors.New("tokens: name a subcommand: create or revoke")
	}
	sub, args := args[0], args[1:]
	cfg, svc, closeDB, err := openAccess(ctx, "tokens "+sub, args, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	if sub == "create" {
		if cfg.TokenUser == "" {
			return errors.New("tokens create: --user is required")
		}
		tok, secret, err := svc.CreateToken(ctx, cfg.TokenUser, cfg.TokenExpires)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %d for %s, valid until %s; it is shown only now:\n%s\n", tok.ID, tok.User, tok.ExpiresAt.UTC().Format(time.RFC3339), secret)
		return nil
	}
	arg, err := oneArgument(cfg, "tokens revoke", "ID")
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return fmt.Errorf("tokens revoke: %q is not a token id (the number `tokens create` printed)", arg)
	}
	if err := svc.RevokeToken(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked token %d\n", id)
	return nil
}

// openAccess opens the database for a users or tokens command and applies
// auditd's own migrations (the users table may be newer than the
// database); only auditd's schema is touched, so it is safe beside an
// application's event table too.
func openAccess(ctx context.Context, cmd string, args []string, stderr io.Writer) (*config, *access.Service, func(), error) {
	cfg, logger, db, err := openCommand(ctx, cmd, args, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := schema.MigrateOwn(ctx, db.State); err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	return cfg, access.NewService(db.State, logger, access.Options{}), db.Close, nil
}

// oneArgument is the command's one positional argument.
func oneArgument(cfg *config, cmd, what string) (string, error) {
	if len(cfg.positional) != 1 {
		return "", fmt.Errorf("%s: want one %s, got %d arguments", cmd, what, len(cfg.positional))
	}
	return cfg.positional[0], nil
}

// readPassword reads a password from file's first line; without a file,
// it prompts on the terminal without echo (twice, to catch a typo), or
// reads stdin's first line when stdin is not a terminal (scripts).
func readPassword(file string, stderr io.Writer) (string, error) {
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("unable to read --password-file: %w", err)
		}
		defer f.Close()
		return firstLine(f)
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return firstLine(os.Stdin)
	}
	fmt.Fprint(stderr, "Password: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("unable to read the password: %w", err)
	}
	fmt.Fprint(stderr, "Again: ")
	again, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("unable to read the password: %w", err)
	}
	if string(pw) != string(again) {
		return "", errors.New("the two passwords differ")
	}
	return string(pw), nil
}

// firstLine is r's first line without its line ending.
func firstLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("unable to read the password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
