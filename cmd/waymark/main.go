// Command waymark is the Waymark binary: the web server, the worker, the
// migrations and the admin tasks, in one executable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(c.main(ctx, os.Args[1:]))
}

// cli holds the process's streams and environment, so tests run commands in-process.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	onListen       func(addr string) // tests learn the web server's address
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usageError is a mistake on the command line: exit 2.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

// main runs a command and maps its error to an exit code: 2 for bad usage
// or configuration, 1 for everything else. Errors print as one line.
func (c *cli) main(ctx context.Context, args []string) int {
	err := c.run(ctx, args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	code := 1
	var ee *exitError
	var ce *configError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case errors.As(err, &ce):
		code = 2
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(c.stderr, "waymark: "+strings.ReplaceAll(msg, "\n", "; "))
	}
	return code
}

type command struct {
	name, usage, summary string
	run                  func(c *cli, ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "serve", "run everything in one process: web, worker and scheduler (the default)", (*cli).serve},
		{"web", "web", "run the web server only (split mode: PostgreSQL and Redis required)", (*cli).web},
		{"worker", "worker", "run the worker and scheduler only (split mode: PostgreSQL and Redis required)", (*cli).worker},
		{"migrate", "migrate", "apply pending database migrations and exit", (*cli).migrate},
		{"users", "users create --email E --role R [--name N] [--password-stdin]", "manage users", (*cli).users},
		{"journeys", "journeys validate FILE… | import FILE | export ID [--version N] | simulate FILE --profiles FILE | replay", "journeys as code: check, import, export, simulate offline, replay recorded runs", (*cli).journeys},
		{"profiles", profilesUsage, "import profiles from a CSV file (valid rows commit, invalid rows are listed)", (*cli).profiles},
		{"apikeys", "apikeys create --name N --scopes S", "manage API keys (the key is printed once)", (*cli).apikeys},
		{"secrets", "secrets rotate [--dry-run] | check", "check, or re-seal with a new WAYMARK_SECRET_KEY (old key in WAYMARK_SECRET_KEY_OLD), every stored secret (connectors, webhook triggers)", (*cli).secrets},
		{"healthcheck", healthcheckUsage, "probe this host's Waymark server (/healthz; --ready for /readyz): exit 0 healthy, 1 not — a HEALTHCHECK for shell-less images", (*cli).healthcheck},
		{"version", "version", "print the version", (*cli).version},
	}
}

func (c *cli) usage() string {
	var b strings.Builder
	b.WriteString("Waymark — visual customer journeys.\n\nUsage: waymark [command] [flags]\n\nCommands:\n")
	for _, cmd := range commands() {
		fmt.Fprintf(&b, "  %-60s %s\n", cmd.usage, cmd.summary)
	}
	b.WriteString("\nRun 'waymark COMMAND --help' for a command's flags.\n\n")
	b.WriteString(envHelp())
	return b.String()
}

func (c *cli) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return c.serve(ctx, nil)
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(c.stdout, c.usage())
		return nil
	}
	for _, cmd := range commands() {
		if cmd.name == args[0] {
			return cmd.run(c, ctx, args[1:])
		}
	}
	if strings.HasPrefix(args[0], "-") {
		return usageError("unknown flag %s (run 'waymark --help')", args[0])
	}
	return usageError("unknown command %q (run 'waymark --help')", args[0])
}

// newFlags returns a quiet FlagSet: parse prints help and one-line errors.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses flags, printing help for --help and turning mistakes into usage errors.
func (c *cli) parse(fs *flag.FlagSet, usage string, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(c.stdout, "Usage: waymark %s\n", usage)
		fs.SetOutput(c.stdout)
		fs.PrintDefaults()
		fmt.Fprintln(c.stdout)
		fmt.Fprint(c.stdout, envHelp())
		return flag.ErrHelp
	}
	if err != nil {
		return usageError("%s: %v (run 'waymark %s --help')", fs.Name(), err, fs.Name())
	}
	if fs.NArg() > 0 && !strings.Contains(usage, "FILE") && !strings.Contains(usage, "ID") {
		return usageError("%s: unexpected argument %q (run 'waymark %s --help')", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}

func (c *cli) version(_ context.Context, args []string) error {
	fs := newFlags("version")
	if err := c.parse(fs, "version", args); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "waymark "+version)
	return nil
}
