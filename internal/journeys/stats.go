package journeys

import (
	"context"
	"errors"
	"fmt"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/store"
)

// NoVersionError: the journey has no such version.
type NoVersionError struct {
	JourneyID string
	Version   int
}

func (e *NoVersionError) Error() string {
	return fmt.Sprintf("journey %s has no version %d", e.JourneyID, e.Version)
}

// Stats computes the numbers of version (0: the live version; the draft's
// nodes, all zero, for a journey never published) of journeyID.
func (r *Reports) Stats(ctx context.Context, ws, journeyID string, version int) (Stats, error) {
	j, err := r.store.GetJourney(ctx, ws, journeyID)
	if err != nil {
		return Stats{}, err
	}
	if version == 0 {
		version = j.LiveVersion
	}
	doc, err := r.docs.Document(ctx, ws, j.ID, version)
	if errors.Is(err, store.ErrNotFound) && version > 0 {
		return Stats{}, &NoVersionError{JourneyID: j.ID, Version: version}
	}
	if err != nil {
		return Stats{}, err
	}
	var raw store.JourneyStats
	var older map[string]string
	if version > 0 {
		raw, err = r.store.JourneyStats(ctx, ws, j.ID, version)
		if err != nil {
			return Stats{}, err
		}
		// Runs a publish or rollback brought to this version keep their
		// steps on the nodes of the version they ran on.
		if missing := nodesNotIn(doc, raw); len(missing) > 0 {
			if older, err = r.docs.NodeKinds(ctx, ws, j.ID, version, missing); err != nil {
				return Stats{}, err
			}
		}
	}
	return buildStats(j.ID, version, doc, older, raw), nil
}

// NodeStats is one node's counters; see docs/analytics.md. For every
// node Entered = Completed + Moved + Waiting + Failed + Exited.
type NodeStats struct {
	NodeID    string           `json:"node_id"`
	Kind      string           `json:"kind,omitempty"`
	Entered   int64            `json:"entered"`   // visits: runs that reached the node (a loop counts each visit)
	Completed int64            `json:"completed"` // left through a connected port to the next node
	Moved     int64            `json:"moved"`     // moved away: a publish or rollback (ledger kind migrate), or Move to step
	Waiting   int64            `json:"waiting"`   // runs at the node now (active, waiting, waiting_event, paused)
	Failed    int64            `json:"failed"`    // runs that failed at the node
	Exited    int64            `json:"exited"`    // runs that ended at the node (completed or exited)
	Skipped   int64            `json:"skipped"`   // messages not sent: frequency cap, suppression, consent
	Deferred  int64            `json:"deferred"`  // quiet-hours deferrals (the run waits, then sends)
	Ports     map[string]int64 `json:"ports"`     // steps that left through each port
}

// JourneyTotals are the version's runs, conversions and revenue.
type JourneyTotals struct {
	Entries        int64   `json:"entries"`
	Active         int64   `json:"active"`
	Completed      int64   `json:"completed"`
	Exited         int64   `json:"exited"`
	Failed         int64   `json:"failed"`
	Converted      int64   `json:"converted"`
	ConversionRate float64 `json:"conversion_rate"`
	Revenue        float64 `json:"revenue"`
	// MovedIn counts the moves (a publish or a rollback, ledger kind
	// migrate) that brought runs of this version from an earlier one:
	// those runs count here with their whole history, so the steps they
	// took before the move are in this version's numbers too (a run moved
	// twice counts twice). See docs/analytics.md.
	MovedIn int64 `json:"moved_in"`
}

// Stats are a journey version's numbers from the ledger: per node and in
// total (GET /api/v1/journeys/{id}/stats, the canvas's counters).
type Stats struct {
	JourneyID string        `json:"journey_id"`
	Version   int           `json:"version"`
	Nodes     []NodeStats   `json:"nodes"`
	Journey   JourneyTotals `json:"journey"`
}

// Ledger step kinds that are not node kinds: records made at the node a
// run was at when a publish or rollback moved it (store.PublishWithMigration),
// an admin moved it (store.MoveRun), it was retried or requeued, or it
// exited while waiting (worker exit criteria).
func synthetic(stepKind string) bool {
	switch stepKind {
	case "migrate", "move", "retry", "exit":
		return true
	}
	return false
}

// buildStats turns the ledger aggregates into per-node counters, using the
// version's edges to tell a step that moved on from one that left through
// an unconnected port (the run ended there). A node that is not in the
// version's document (a run's step on an earlier version) takes its kind
// from older, the kinds of earlier versions' nodes.
func buildStats(journeyID string, version int, doc *flows.Journey, older map[string]string, raw store.JourneyStats) Stats {
	type key struct{ node, port string }
	connected := map[key]bool{}
	anyPort := map[string]bool{}
	var order []string
	byID := map[string]*NodeStats{}
	get := func(id, kind string) *NodeStats {
		n, ok := byID[id]
		if !ok {
			if k, ok := older[id]; ok {
				kind = k
			}
			n = &NodeStats{NodeID: id, Kind: kind, Ports: map[string]int64{}}
			byID[id] = n
			order = append(order, id)
		}
		if n.Kind == "" {
			n.Kind = kind
		}
		return n
	}
	if doc != nil {
		for _, n := range doc.Nodes {
			get(n.ID, n.Kind)
		}
		for _, e := range doc.Edges {
			if e.Port == "" {
				// An edge without a port leaves the node's only port.
				anyPort[e.From] = true
			} else {
				connected[key{e.From, e.Port}] = true
			}
		}
	}
	var movedIn int64
	for _, st := range raw.Steps {
		kind := st.Kind
		if synthetic(kind) {
			kind = ""
		}
		n := get(st.NodeID, kind)
		switch {
		case st.Outcome == "skipped":
			n.Skipped += st.Count
		case st.Outcome == "deferred":
			n.Deferred += st.Count
		case st.Kind == "migrate" && st.Outcome == store.OutcomeMigrated:
			n.Moved += st.Count
			movedIn += st.Count
		case st.Kind == "move" && st.Outcome == "moved":
			n.Moved += st.Count
		}
		if st.Port == "" {
			continue
		}
		n.Ports[st.Port] += st.Count
		if anyPort[st.NodeID] || connected[key{st.NodeID, st.Port}] {
			n.Completed += st.Count
		}
	}
	var js JourneyTotals
	for _, p := range raw.Positions {
		n := get(p.NodeID, "")
		switch p.Status {
		case store.RunFailed:
			n.Failed += p.Count
		case store.RunCompleted, store.RunExited:
			n.Exited += p.Count
		default:
			n.Waiting += p.Count
		}
	}
	out := Stats{JourneyID: journeyID, Version: version, Nodes: make([]NodeStats, 0, len(order))}
	for _, id := range order {
		n := byID[id]
		n.Entered = n.Completed + n.Moved + n.Waiting + n.Failed + n.Exited
		out.Nodes = append(out.Nodes, *n)
	}
	t := raw.Totals
	js.Entries = t.Entries
	for _, st := range store.LiveRunStatuses {
		js.Active += t.ByStatus[st]
	}
	js.Completed, js.Exited, js.Failed = t.ByStatus[store.RunCompleted], t.ByStatus[store.RunExited], t.ByStatus[store.RunFailed]
	js.Converted, js.Revenue = t.Converted, t.Revenue
	js.MovedIn = movedIn
	if t.Entries > 0 {
		js.ConversionRate = float64(t.Converted) / float64(t.Entries)
	}
	out.Journey = js
	return out
}

// nodesNotIn lists the node ids of raw that doc does not have.
func nodesNotIn(doc *flows.Journey, raw store.JourneyStats) []string {
	seen := map[string]bool{}
	if doc != nil {
		for _, n := range doc.Nodes {
			seen[n.ID] = true
		}
	}
	var out []string
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, st := range raw.Steps {
		add(st.NodeID)
	}
	for _, p := range raw.Positions {
		add(p.NodeID)
	}
	return out
}
