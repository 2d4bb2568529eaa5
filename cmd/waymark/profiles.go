package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/hibiken/asynq"

	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

const profilesUsage = "profiles import FILE [--map column=field,…] [--dry-run]"

func (c *cli) profiles(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "import" {
		return usageError("usage: waymark %s", profilesUsage)
	}
	return c.profilesImport(ctx, args[1:])
}

// outboxOnly leaves entries in the outbox: the CLI has no Redis, a running
// worker's relay enqueues them.
type outboxOnly struct{}

func (outboxOnly) EnqueueContext(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return nil, errors.New("left for the worker's outbox relay")
}

// profilesImport imports profiles from a CSV file, one transaction per
// row; invalid rows are reported as "line N, column C: reason" and exit 1.
func (c *cli) profilesImport(ctx context.Context, args []string) error {
	fs := newFlags("profiles import")
	mapSpec := fs.String("map", "", "column=field,… (field: external_id, email, phone, timezone, locale, attributes.NAME or - to skip)")
	dryRun := fs.Bool("dry-run", false, "validate every row, write nothing")
	if err := c.parse(fs, profilesUsage, args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return usageError("profiles import: name a CSV FILE")
	}
	path := fs.Arg(0)
	if err := c.parse(fs, profilesUsage, fs.Args()[1:]); err != nil { // flags after FILE
		return err
	}
	if fs.NArg() > 0 {
		return usageError("profiles import: name exactly one FILE")
	}
	f, err := os.Open(path)
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("profiles import: cannot read %s: %v", path, errReason(err))}
	}
	defer f.Close()
	rd, err := profiles.NewReader(f)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("profiles import: %s: %v", path, err)}
	}
	m, err := profiles.ParseMapping(*mapSpec, rd.Headers)
	if err == nil {
		err = rd.SetMapping(m)
	}
	if err != nil {
		return usageError("profiles import: %v", err)
	}
	st, err := c.openForAdmin(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	reg, err := newRegistry()
	if err != nil {
		return err
	}
	engine := worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Enqueuer: outboxOnly{}})
	trig := worker.NewTriggers(engine, st, nil, worker.TriggersConfig{})
	entered := 0
	im := &profiles.Importer{Store: st, Changed: func(ctx context.Context, p store.Profile) {
		runs, err := trig.ProfileChanged(ctx, p)
		if err != nil {
			fmt.Fprintf(c.stderr, "segment and attribute triggers for %s: %v\n", p.ExternalID, err)
		}
		entered += len(runs)
	}}
	res, err := im.Run(ctx, store.DefaultWorkspaceID, rd, *dryRun)
	for _, e := range res.Errors {
		if e.Column != "" {
			fmt.Fprintf(c.stdout, "line %d, column %s: %s\n", e.Line, e.Column, e.Reason)
		} else {
			fmt.Fprintf(c.stdout, "line %d: %s\n", e.Line, e.Reason)
		}
	}
	if err != nil {
		return err
	}
	verb := "imported"
	if *dryRun {
		verb = "valid (dry run, nothing written)"
	}
	fmt.Fprintf(c.stderr, "%d row(s): %d %s, %d rejected, %d segment entries\n", res.Rows, res.Imported, verb, res.Failed, entered)
	if res.Failed > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("profiles import: %d row(s) rejected", res.Failed)}
	}
	return nil
}
