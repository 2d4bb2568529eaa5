package main

import (
	"fmt"
	"path/filepath"
)

// The flow benchmark's part of the report: one row per measure, one column
// per setup, the goals beside Waymark's figures (issue 20).

// flowGoalRequests is the run size the goals are stated for.
const flowGoalRequests = 10000

// The goals (issue 20), on a 2-core machine with everything on it.
const (
	goalPGDeliveries  = 1600 // deliveries/s
	goalPGAccept      = 3500 // accepted req/s while the engine drains …
	goalPGP99         = 50   // … with p99 under this many ms
	goalPGCPU         = 0.8  // CPU-ms per request, all processes
	goalEmbDeliveries = 800
	goalEmbCPU        = 1.0
	goalEmbRSS        = 200 // MB
)

// flowRow is one measure: baseline, PostgreSQL + Redis, its goal,
// embedded, its goal.
type flowRow struct {
	What  string
	Cells [5]string
}

func (v *view) flowRows() []flowRow {
	if len(v.Flow) == 0 {
		return nil
	}
	base, pg, emb := v.Flow[modeBaseline], v.Flow[modePostgres], v.Flow[modeEmbedded]
	ok := func(r *FlowResult) bool { return r != nil && r.Err == "" }
	cell := func(r *FlowResult, f func(r *FlowResult) string) string {
		switch {
		case r == nil:
			return "not run"
		case r.Err != "" && r.Accepted == 0:
			return "failed"
		}
		return f(r)
	}
	row := func(what string, f func(r *FlowResult) string, pgGoal, embGoal string) flowRow {
		return flowRow{what, [5]string{cell(base, f), cell(pg, f), pgGoal, cell(emb, f), embGoal}}
	}
	cpu := func(part string) func(r *FlowResult) string {
		return func(r *FlowResult) string {
			sv, d, rd, tot := r.CPUPerRequestMS()
			switch part {
			case "server":
				return fmt.Sprintf("%.2f", sv)
			case "postgres":
				if r.Mode != modePostgres {
					return "—"
				}
				if !r.PostgresSeen {
					return "not seen"
				}
				return fmt.Sprintf("%.2f", d)
			case "redis":
				if r.Mode == modeEmbedded {
					return "(in-process)"
				}
				if r.Mode != modePostgres {
					return "—"
				}
				if !r.RedisSeen {
					return "not seen"
				}
				return fmt.Sprintf("%.2f", rd)
			}
			return fmt.Sprintf("**%.2f**", tot)
		}
	}
	ratio := func(f func(r *FlowResult) float64) func(r *FlowResult) string {
		return func(r *FlowResult) string {
			if !ok(base) || f(base) == 0 {
				return "—"
			}
			if r.Mode == modeBaseline {
				return "1"
			}
			return fmt.Sprintf("%.2f ×", f(r)/f(base))
		}
	}
	senders := v.Sizes.FlowSenders
	for _, r := range []*FlowResult{pg, emb, base} {
		if r != nil && r.Senders > 0 {
			senders = r.Senders
		}
	}
	rows := []flowRow{
		row("requests (signed, unique webhook-id each)", func(r *FlowResult) string { return fmtInt(r.Requests) }, fmtInt(flowGoalRequests), fmtInt(flowGoalRequests)),
		row(fmt.Sprintf("accepted req/s (%d concurrent senders)", senders), func(r *FlowResult) string { return "**" + fmtNum(r.AcceptedPerSec) + "**" },
			"≥ "+fmtInt(goalPGAccept), ""),
		row("latency of accepted requests while the engine drains, p50 / p99", func(r *FlowResult) string { return fmtMS(r.P50ms) + " / " + fmtMS(r.P99ms) },
			fmt.Sprintf("p99 < %d ms", goalPGP99), ""),
		row("deliveries/s (first request → last delivery)", func(r *FlowResult) string { return "**" + fmtNum(r.DeliveriesPerSec) + "**" },
			"≥ "+fmtInt(goalPGDeliveries), "≥ "+fmtInt(goalEmbDeliveries)),
		row("delivered / expected (one per passing entry)", func(r *FlowResult) string { return fmtInt(r.Delivered) + " / " + fmtInt(r.Expected) }, "all", "all"),
		row("lost / duplicated (by webhook-id at the sink) / unexpected", func(r *FlowResult) string {
			return fmt.Sprintf("%d / %d / %d", r.Lost, r.Duplicates, r.Unexpected)
		}, "0 / 0 / 0", "0 / 0 / 0"),
		row("CPU ms per request: the server process (waymark, or the baseline)", cpu("server"), "", ""),
		row("CPU ms per request: PostgreSQL (every process of the postgres user)", cpu("postgres"), "", ""),
		row("… of which the backends serving this waymark's connections", func(r *FlowResult) string {
			if r.Mode != modePostgres || !r.PostgresSeen || r.PostgresBackends == 0 {
				return "—"
			}
			return fmt.Sprintf("%.2f (%d backends)", r.PostgresOwnCPU*1000/float64(r.Requests), r.PostgresBackends)
		}, "", ""),
		row("CPU ms per request: Redis (redis-server)", cpu("redis"), "", ""),
		row("CPU ms per request: all processes", cpu("total"), fmt.Sprintf("≤ %.1f", goalPGCPU), fmt.Sprintf("≤ %.0f", goalEmbCPU)),
		row("CPU ms per request: the senders and the sink (the suite's own process, not in the total)", func(r *FlowResult) string {
			if r.ClientCPU == 0 {
				return "—"
			}
			return fmt.Sprintf("%.2f", r.ClientCPU*1000/float64(r.Requests))
		}, "", ""),
		row("peak RSS of the server process", func(r *FlowResult) string { return fmtNum(r.PeakRSSMB) + " MB" }, "", fmt.Sprintf("< %d MB", goalEmbRSS)),
		row("deliveries/s ÷ baseline's", ratio(func(r *FlowResult) float64 { return r.DeliveriesPerSec }), "", ""),
		row("CPU per request ÷ baseline's", ratio(func(r *FlowResult) float64 { _, _, _, t := r.CPUPerRequestMS(); return t }), "", ""),
		row("load average (1, 5, 15 min) at start → end", func(r *FlowResult) string { return r.LoadStart + " → " + r.LoadEnd }, "", ""),
	}
	if (pg != nil && pg.Profile != "") || (emb != nil && emb.Profile != "") {
		rows = append(rows, row("CPU profile of the server under load", func(r *FlowResult) string {
			if r.Profile == "" {
				return "—"
			}
			return "`" + filepath.Base(r.Profile) + "`"
		}, "", ""))
	}
	return rows
}

// FlowWrites is PostgreSQL mode's rows per request by table.
func (v *view) FlowWrites() []string {
	r := v.Flow[modePostgres]
	if r == nil || len(r.Writes) == 0 || r.Requests == 0 {
		return nil
	}
	per := func(n int64) string { return fmt.Sprintf("%.2f", float64(n)/float64(r.Requests)) }
	var ins, upd, del int64
	out := []string{}
	for _, w := range r.Writes {
		if float64(w.Inserted+w.Updated+w.Deleted) < 0.01*float64(r.Requests) {
			continue // the setup's few writes (connector, journey, audit) that the first reading missed
		}
		ins, upd, del = ins+w.Inserted, upd+w.Updated, del+w.Deleted
		out = append(out, fmt.Sprintf("| `%s` | %s | %s | %s | %s |", w.Table, per(w.Inserted), per(w.Updated), per(w.HOT), per(w.Deleted)))
	}
	return append(out, fmt.Sprintf("| all tables | %s | %s | | %s |", per(ins), per(upd), per(del)))
}

// FlowFailures lists the flow runs that reported an error.
func (v *view) FlowFailures() []FlowResult {
	var out []FlowResult
	for _, m := range []string{modeBaseline, modePostgres, modeEmbedded} {
		if r := v.Flow[m]; r != nil && r.Err != "" {
			out = append(out, *r)
		}
	}
	return out
}

// flowGoals are the flow benchmark's rows of the goals table.
func (v *view) flowGoals() []goal {
	var gs []goal
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	size := func(r *FlowResult) (string, bool) {
		if r.Requests < flowGoalRequests {
			return fmt.Sprintf("; %s requests, a smaller run than the goal's", fmtInt(r.Requests)), false
		}
		return "", true
	}
	if r := v.Flow[modePostgres]; r != nil && r.Err == "" {
		note, full := size(r)
		_, _, _, tot := r.CPUPerRequestMS()
		gs = append(gs,
			goal{"flow deliveries, PostgreSQL + Redis (webhook → condition → send_webhook, `waymark serve`)", fmt.Sprintf("≥ %s deliveries/s for %s requests", fmtInt(goalPGDeliveries), fmtInt(flowGoalRequests)),
				fmt.Sprintf("%s deliveries/s%s", fmtNum(r.DeliveriesPerSec), note), verdict(full && r.DeliveriesPerSec >= goalPGDeliveries)},
			goal{"flow accept while draining, PostgreSQL + Redis", fmt.Sprintf("≥ %s req/s, p99 < %d ms", fmtInt(goalPGAccept), goalPGP99),
				fmt.Sprintf("%s req/s, p99 %s%s", fmtNum(r.AcceptedPerSec), fmtMS(r.P99ms), note), verdict(full && r.AcceptedPerSec >= goalPGAccept && r.P99ms < goalPGP99)})
		if r.PostgresSeen && r.RedisSeen {
			gs = append(gs, goal{"flow CPU per request, PostgreSQL + Redis (all processes)", fmt.Sprintf("≤ %.1f ms", goalPGCPU), fmt.Sprintf("%.2f ms", tot), verdict(tot <= goalPGCPU)})
		} else {
			gs = append(gs, goal{"flow CPU per request, PostgreSQL + Redis (all processes)", fmt.Sprintf("≤ %.1f ms", goalPGCPU),
				fmt.Sprintf("%.2f ms without the servers' share (PostgreSQL or Redis not on this machine)", tot), "not measured"})
		}
		gs = append(gs, v.zeroLoss(r))
	}
	if r := v.Flow[modeEmbedded]; r != nil && r.Err == "" {
		note, full := size(r)
		_, _, _, tot := r.CPUPerRequestMS()
		gs = append(gs,
			goal{"flow deliveries, embedded", fmt.Sprintf("≥ %s deliveries/s", fmtInt(goalEmbDeliveries)),
				fmt.Sprintf("%s deliveries/s%s", fmtNum(r.DeliveriesPerSec), note), verdict(full && r.DeliveriesPerSec >= goalEmbDeliveries)},
			goal{"flow CPU per request, embedded", fmt.Sprintf("≤ %.0f ms", goalEmbCPU), fmt.Sprintf("%.2f ms", tot), verdict(tot <= goalEmbCPU)},
			goal{"flow peak RSS, embedded", fmt.Sprintf("< %d MB", goalEmbRSS), fmtNum(r.PeakRSSMB) + " MB", verdict(r.PeakRSSMB > 0 && r.PeakRSSMB < goalEmbRSS)},
			v.zeroLoss(r))
	}
	return gs
}

func (v *view) zeroLoss(r *FlowResult) goal {
	ok := r.Lost == 0 && r.Duplicates == 0 && r.Unexpected == 0 && r.Delivered == r.Expected
	verdict := "met"
	if !ok {
		verdict = "**not met**"
	}
	return goal{"flow: nothing lost or duplicated, " + modeTitles[r.Mode], "0 lost, 0 duplicated (by webhook-id at the sink)",
		fmt.Sprintf("%s of %s delivered; %d lost, %d duplicated, %d unexpected", fmtInt(r.Delivered), fmtInt(r.Expected), r.Lost, r.Duplicates, r.Unexpected), verdict}
}
