package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// step turns a ledger step into its simulation view, with the expression
// that decided a branch and a sentence that explains the step.
func (w *world) step(st store.RunStep) Step {
	out := Step{Sequence: st.Sequence, At: st.StartedAt, Offset: offset(w.start(), st.StartedAt), NodeID: st.NodeID, Kind: st.Kind,
		Port: st.Port, Outcome: st.Outcome, Detail: st.Detail}
	if n, ok := w.compiled.Nodes[st.NodeID]; ok {
		out.Title = n.Title
		if n.Kind == "condition" {
			out.Expr = n.Config.String("expr")
		}
	}
	out.Summary = explain(out)
	return out
}

// start is the virtual time the simulation began at.
func (w *world) start() time.Time { return w.t0 }

// offset formats the time since the start, like "2d3h" ("0s" at the start).
func offset(start, t time.Time) string {
	d := t.Sub(start).Truncate(time.Second)
	if d < 0 {
		return "-" + nodes.FormatDuration(-d)
	}
	return nodes.FormatDuration(d)
}

// explain says what a step did, in words.
func explain(s Step) string {
	d := s.Detail
	str := func(k string) string { v, _ := d[k].(string); return v }
	switch s.Outcome {
	case "entered":
		return "entered the journey"
	case "deferred":
		return fmt.Sprintf("deferred by %s until %s", firstNonEmpty(str("reason"), "policy"), str("until"))
	case "skipped":
		if str("reason") == "frequency cap" {
			return fmt.Sprintf("skipped by the frequency cap (%v sent, cap %v)", d["sent"], d["cap"])
		}
		return "skipped: " + str("reason")
	case "failed":
		return "failed: " + str("reason")
	case "sent":
		return "message rendered into the simulation inbox (nothing was sent)"
	case "unknown":
		return "outcome unknown: " + str("reason")
	case "matched":
		return "the awaited event arrived"
	case "timeout":
		return "the wait timed out"
	case "waited":
		switch {
		case str("until") != "":
			return "waited until " + str("until")
		case str("skipped") != "":
			return "no wait: " + str("skipped")
		case str("error") != "":
			return "no wait: " + str("error")
		}
		return "waited"
	case "converted":
		if d["exit"] == true {
			return "converted: the goal was met, the run exits"
		}
		return "converted: the goal was met"
	case "exited":
		return "exited: " + firstNonEmpty(str("reason"), "exit criteria")
	case "completed":
		if r := str("reason"); r != "" {
			return "completed: " + r
		}
		return "completed"
	}
	switch s.Kind {
	case "condition":
		v := fmt.Sprint(d["value"])
		if e := str("error"); e != "" {
			return fmt.Sprintf("%s → %s (error, counts as false: %s)", s.Expr, s.Port, e)
		}
		return fmt.Sprintf("%s is %s → %s", s.Expr, v, s.Port)
	case "switch":
		var errs []string
		for k, v := range d {
			if strings.HasSuffix(k, "_error") {
				errs = append(errs, fmt.Sprintf("%s: %v", strings.TrimSuffix(k, "_error"), v))
			}
		}
		sort.Strings(errs)
		msg := "no case matched → default"
		if m := str("matched"); m != "" {
			msg = "case " + m + " matched"
		}
		if len(errs) > 0 {
			msg += " (errors count as false: " + strings.Join(errs, "; ") + ")"
		}
		return msg
	case "split":
		return fmt.Sprintf("bucket %v of 100 → variant %s", d["bucket"], firstNonEmpty(str("variant"), s.Port))
	case "update_profile":
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s = %v", k, d[k]))
		}
		return "set " + strings.Join(parts, ", ")
	case "goal":
		return "goal not met yet"
	}
	return s.Outcome
}
