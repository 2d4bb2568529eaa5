package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

const simulateUsage = "journeys simulate FILE --profiles FILE [--events FILE] [--start TIME] [--horizon 30d] [--timelines 20] [--json]"

// journeysSimulate simulates a journey document offline: the simulator
// needs no database and sends nothing, so it runs in CI as it is.
// Exit 0: simulated; 1: the document or the request is invalid; 2: a file
// cannot be read.
func (c *cli) journeysSimulate(ctx context.Context, args []string) error {
	fs := newFlags("journeys simulate")
	profilesPath := fs.String("profiles", "", "JSON file: an array of profiles, or a simulation request {profiles, cohort, entry, events, horizon, start}")
	eventsPath := fs.String("events", "", "JSON file: an array of scripted events [{profile, name, properties, after}]")
	start := fs.String("start", "", "virtual start time, RFC 3339 (default: now)")
	horizon := fs.String("horizon", "", "how long the virtual clock may run, e.g. 30d (default and maximum 400d)")
	asJSON := fs.Bool("json", false, "print the full result as JSON")
	shown := fs.Int("timelines", 20, "how many profiles' timelines to print (the counts cover all)")
	var file string
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		file, args = args[0], args[1:]
	}
	if err := c.parse(fs, simulateUsage, args); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" || *profilesPath == "" {
		return usageError("usage: waymark %s", simulateUsage)
	}
	doc, err := readInput("journeys simulate", file)
	if err != nil {
		return err
	}
	var req sim.Request
	raw, err := readInput("journeys simulate", *profilesPath)
	if err != nil {
		return err
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		err = strictJSON(t, &req.Profiles)
	} else {
		err = strictJSON(t, &req)
	}
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("journeys simulate: %s: %v", *profilesPath, err)}
	}
	if *eventsPath != "" {
		raw, err := readInput("journeys simulate", *eventsPath)
		if err != nil {
			return err
		}
		var evs []sim.ScriptedEvent
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
			var w struct {
				Events []sim.ScriptedEvent `json:"events"`
			}
			err, evs = strictJSON(t, &w), w.Events
		} else {
			err = strictJSON(t, &evs)
		}
		if err != nil {
			return &exitError{code: 1, msg: fmt.Sprintf("journeys simulate: %s: %v", *eventsPath, err)}
		}
		req.Events = append(req.Events, evs...)
	}
	if *start != "" {
		t, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return usageError("journeys simulate: --start: want an RFC 3339 time like 2026-06-01T10:00:00Z, got %q", *start)
		}
		req.Start = t
	}
	if *horizon != "" {
		req.Horizon = *horizon
	}
	reg, err := newRegistry()
	if err != nil {
		return err
	}
	res, err := sim.New(sim.Config{Registry: reg}).Simulate(ctx, store.DefaultWorkspaceID, doc, req)
	if err != nil {
		return simulateCLIError(c.stdout, file, *profilesPath, err)
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printSimulation(c.stdout, res, *shown)
	return nil
}

// simulateCLIError prints every problem on its own line and exits 1.
func simulateCLIError(w io.Writer, file, reqFile string, err error) error {
	var ie *sim.InputError
	var inv *sim.InvalidError
	var pe *flows.ParseError
	switch {
	case errors.As(err, &ie):
		for _, p := range ie.Problems {
			fmt.Fprintf(w, "%s: %s: %s\n", reqFile, p.Field, p.Message)
		}
		return &exitError{code: 1, msg: "journeys simulate: the simulation request is invalid"}
	case errors.As(err, &inv):
		for _, p := range inv.Problems {
			fmt.Fprintf(w, "%s: %s\n", file, p.String())
		}
		return &exitError{code: 1, msg: "journeys simulate: the journey cannot run"}
	case errors.As(err, &pe):
		for _, p := range pe.Problems {
			fmt.Fprintf(w, "%s: %s\n", file, p.String())
		}
		return &exitError{code: 1, msg: "journeys simulate: the journey document does not parse"}
	}
	return fmt.Errorf("journeys simulate: %w", err)
}

func readInput(cmd, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("%s: cannot read %s: %v", cmd, path, errReason(err))}
	}
	return b, nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not valid JSON for this input: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// printSimulation writes a readable report: every profile's timeline with
// its messages, then the path counts.
func printSimulation(w io.Writer, res *sim.Result, shown int) {
	fmt.Fprintf(w, "Simulated %q for %d profile(s) from %s to %s (%s): %d entered, %d message(s) rendered, none sent.\n",
		res.Journey, res.Profiles, res.Start.Format(time.RFC3339), res.End.Format(time.RFC3339), res.Stopped, res.Entered, res.Messages)
	for i, tl := range res.Timelines {
		if i >= shown {
			break
		}
		fmt.Fprintf(w, "\n%s (%s)\n", tl.ExternalID, tl.Source)
		if tl.NotEntered != "" {
			fmt.Fprintf(w, "  did not enter: %s\n", tl.NotEntered)
		}
		for i, r := range tl.Runs {
			fmt.Fprintf(w, "  run %d: %s", i+1, r.Status)
			if r.WaitUntil != nil && r.FinishedAt == nil {
				fmt.Fprintf(w, " (at %s until %s)", r.CurrentNode, r.WaitUntil.Format(time.RFC3339))
			}
			if r.Error != "" {
				fmt.Fprintf(w, ": %s", r.Error)
			}
			fmt.Fprintln(w)
			msgs := map[int][]sim.Message{}
			for _, m := range r.Messages {
				msgs[m.Sequence] = append(msgs[m.Sequence], m)
			}
			for _, s := range r.Steps {
				port := s.Port
				if port == "" {
					port = "-"
				}
				fmt.Fprintf(w, "    %-8s %-16s %-10s %s\n", s.Offset, s.NodeID, port, s.Summary)
				for _, m := range msgs[s.Sequence] {
					what := m.Subject
					if what == "" {
						what = firstLine(m.Body, string(m.Payload))
					}
					fmt.Fprintf(w, "             ✉ %s via %s to %s: %s\n", m.Kind, m.Connector, m.To, what)
				}
			}
		}
	}
	if n := min(shown, len(res.Timelines)); n < res.Profiles {
		fmt.Fprintf(w, "\n(timelines of the first %d profiles shown, see --timelines and --json; counts cover all %d)\n", n, res.Profiles)
	}
	fmt.Fprintln(w, "\nPaths:")
	for _, p := range res.Paths {
		fmt.Fprintf(w, "  %5d  %5.1f%%  %s\n", p.Runs, 100*p.Share, strings.Join(p.Path, " → "))
	}
}

func firstLine(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			if i := strings.IndexByte(v, '\n'); i >= 0 {
				v = v[:i]
			}
			if len(v) > 80 {
				v = v[:77] + "…"
			}
			return v
		}
	}
	return ""
}

const replayUsage = "journeys replay [--journey ID] [--version N | --against FILE] [--limit N] [--since 2026-01-01|7d] [--json]"

// journeysReplay re-runs recorded finished runs through this build's engine
// (and, if asked, another version or a document) and reports every run whose
// decisions would differ. Exit 0: none differ; 1: some differ.
func (c *cli) journeysReplay(ctx context.Context, args []string) error {
	fs := newFlags("journeys replay")
	journey := fs.String("journey", "", "replay the runs of this journey (default: every journey)")
	version := fs.Int("version", 0, "replay against this published version of --journey (default: each run's own version)")
	against := fs.String("against", "", "replay against this journey document (FILE)")
	limit := fs.Int("limit", 200, "how many of the newest finished runs to replay")
	since := fs.String("since", "", "only runs that entered since this date (2026-01-01, RFC 3339) or this long ago (7d)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := c.parse(fs, replayUsage, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("journeys replay: unexpected argument %q (usage: waymark %s)", fs.Arg(0), replayUsage)
	}
	opts := sim.ReplayOptions{JourneyID: *journey, Version: *version, Limit: *limit}
	if *version < 0 || *limit < 1 {
		return usageError("journeys replay: --version and --limit must be positive")
	}
	if *version > 0 && *journey == "" {
		return usageError("journeys replay: --version needs --journey")
	}
	if *against != "" && *journey == "" {
		return usageError("journeys replay: --against needs --journey (the journey the document replaces)")
	}
	if *version > 0 && *against != "" {
		return usageError("journeys replay: give --version or --against, not both")
	}
	if *against != "" {
		doc, err := readInput("journeys replay", *against)
		if err != nil {
			return err
		}
		opts.Document = doc
	}
	if *since != "" {
		if d, err := nodes.ParseDuration(*since); err == nil && d > 0 {
			opts.Since = time.Now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339, *since); err == nil {
			opts.Since = t
		} else if t, err := time.Parse(time.DateOnly, *since); err == nil {
			opts.Since = t
		} else {
			return usageError("journeys replay: --since: want a date (2026-01-01), an RFC 3339 time or a duration (7d), got %q", *since)
		}
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
	rep, err := sim.New(sim.Config{Registry: reg, Suppressions: st}).Replay(ctx, st, store.DefaultWorkspaceID, opts)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return &exitError{code: 1, msg: "journeys replay: no such journey or version"}
		}
		return simulateCLIError(c.stdout, *against, "replay", err)
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		for _, d := range rep.Runs {
			if d.Skipped != "" {
				fmt.Fprintf(c.stdout, "SKIP run %s (journey %s v%d): %s\n", d.RunID, d.JourneyID, d.Version, d.Skipped)
				continue
			}
			fmt.Fprintf(c.stdout, "DIFF run %s (journey %s v%d, profile %s) against %s, from step %d:\n", d.RunID, d.JourneyID, d.Version, d.ProfileID, d.Against, d.Step+1)
			fmt.Fprintf(c.stdout, "  recorded: %s\n  replayed: %s\n", strings.Join(tail(d.Recorded, d.Step), " → "), strings.Join(tail(d.Replayed, d.Step), " → "))
		}
		fmt.Fprintf(c.stdout, "%d run(s) replayed, %d differ, %d skipped\n", rep.Checked, rep.Differ, rep.Skipped)
	}
	if rep.Differ > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("journeys replay: %d run(s) would take different decisions", rep.Differ)}
	}
	return nil
}

// tail is the steps from i on (with one step of context before it).
func tail(steps []string, i int) []string {
	if i > 0 {
		i--
	}
	if i > len(steps) {
		i = len(steps)
	}
	return steps[i:]
}
