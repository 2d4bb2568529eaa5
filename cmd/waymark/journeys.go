package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/store"
)

const journeysUsage = "usage: waymark journeys validate FILE… | import FILE | export ID [--version N] | simulate FILE --profiles FILE [--events FILE] [--json] | replay [--journey ID] [--version N | --against FILE]"

func (c *cli) journeys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError(journeysUsage)
	}
	switch args[0] {
	case "validate":
		return c.journeysValidate(args[1:])
	case "import":
		return c.journeysImport(ctx, args[1:])
	case "export":
		return c.journeysExport(ctx, args[1:])
	case "simulate":
		return c.journeysSimulate(ctx, args[1:])
	case "replay":
		return c.journeysReplay(ctx, args[1:])
	}
	return usageError("journeys: unknown subcommand %q (%s)", args[0], journeysUsage)
}

// journeysValidate checks files offline (connectors are checked at publish).
// Exit 0: all valid; 1: problems, one line each; 2: a file cannot be read.
func (c *cli) journeysValidate(args []string) error {
	fs := newFlags("journeys validate")
	if err := c.parse(fs, "journeys validate FILE…", args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError("journeys validate: name at least one FILE")
	}
	reg, err := newRegistry()
	if err != nil {
		return err
	}
	svc := journeys.New(nil, reg)
	bad := 0
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("journeys validate: cannot read %s: %v", path, errReason(err))}
		}
		_, problems, err := svc.Check(context.Background(), "", data)
		if ps, ok := journeys.IsInvalid(err); ok {
			problems = ps
		} else if err != nil {
			return err
		}
		for _, p := range problems {
			fmt.Fprintf(c.stdout, "%s: %s\n", path, p.String())
		}
		if len(problems) > 0 {
			bad++
		} else {
			fmt.Fprintf(c.stderr, "%s: valid\n", path)
		}
	}
	if bad > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d file(s) invalid", bad, fs.NArg())}
	}
	return nil
}

func errReason(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// journeysImport stores a file as a new journey draft and prints its id.
func (c *cli) journeysImport(ctx context.Context, args []string) error {
	fs := newFlags("journeys import")
	if err := c.parse(fs, "journeys import FILE", args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("journeys import: name exactly one FILE")
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("journeys import: cannot read %s: %v", fs.Arg(0), errReason(err))}
	}
	reg, err := newRegistry()
	if err != nil {
		return err
	}
	st, err := c.openForAdmin(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	j, _, err := journeys.New(st, reg).Create(ctx, store.DefaultWorkspaceID, data, "cli", journeys.SaveOptions{})
	if ps, ok := journeys.IsInvalid(err); ok {
		for _, p := range ps {
			fmt.Fprintf(c.stdout, "%s: %s\n", fs.Arg(0), p.String())
		}
		return &exitError{code: 1, msg: fmt.Sprintf("journeys import: %s is invalid; nothing imported", fs.Arg(0))}
	}
	if err != nil {
		return err
	}
	if _, err := st.AppendAudit(ctx, store.AuditEntry{WorkspaceID: j.WorkspaceID, ActorType: "system", ActorID: "cli",
		Action: "journey.create", TargetType: "journey", TargetID: j.ID, Summary: map[string]any{"name": j.Name, "via": "import"}}); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, j.ID)
	return nil
}

// journeysExport prints a journey's canonical document (draft by default).
func (c *cli) journeysExport(ctx context.Context, args []string) error {
	fs := newFlags("journeys export")
	ver := fs.String("version", "draft", "a published version number, or draft")
	// Allow the flag after the id: export ID --version 2.
	var id string
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		id, args = args[0], args[1:]
	}
	if err := c.parse(fs, "journeys export ID [--version N]", args); err != nil {
		return err
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	}
	if id == "" {
		return usageError("journeys export: name the journey ID")
	}
	v := 0
	if *ver != "draft" {
		n, err := strconv.Atoi(*ver)
		if err != nil || n < 1 {
			return usageError("journeys export: --version: want a version number or draft, got %q", *ver)
		}
		v = n
	}
	reg, err := newRegistry()
	if err != nil {
		return err
	}
	st, err := c.openForAdmin(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := journeys.New(st, reg).Export(ctx, store.DefaultWorkspaceID, id, v)
	if err != nil {
		return fmt.Errorf("journeys export: %w", err)
	}
	_, err = c.stdout.Write(b)
	return err
}
