package ui

import (
	"context"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// statsStore is what the journey report reads.
type statsStore interface {
	JourneyStats(ctx context.Context, workspaceID, journeyID string, version int) (store.JourneyStats, error)
}

// nodeStatsJSON is one node's counters; see docs/analytics.md. For every
// node Entered = Completed + Moved + Waiting + Failed + Exited.
type nodeStatsJSON struct {
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

type journeyStatsJSON struct {
	Entries        int64   `json:"entries"`
	Active         int64   `json:"active"`
	Completed      int64   `json:"completed"`
	Exited         int64   `json:"exited"`
	Failed         int64   `json:"failed"`
	Converted      int64   `json:"converted"`
	ConversionRate float64 `json:"conversion_rate"`
	Revenue        float64 `json:"revenue"`
}

type statsJSON struct {
	JourneyID string           `json:"journey_id"`
	Version   int              `json:"version"`
	Nodes     []nodeStatsJSON  `json:"nodes"`
	Journey   journeyStatsJSON `json:"journey"`
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
func buildStats(journeyID string, version int, doc *flows.Journey, older map[string]string, raw store.JourneyStats) statsJSON {
	type key struct{ node, port string }
	connected := map[key]bool{}
	anyPort := map[string]bool{}
	var order []string
	byID := map[string]*nodeStatsJSON{}
	get := func(id, kind string) *nodeStatsJSON {
		n, ok := byID[id]
		if !ok {
			if k, ok := older[id]; ok {
				kind = k
			}
			n = &nodeStatsJSON{NodeID: id, Kind: kind, Ports: map[string]int64{}}
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
		case st.Kind == "migrate" && st.Outcome == store.OutcomeMigrated, st.Kind == "move" && st.Outcome == "moved":
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
	var js journeyStatsJSON
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
	out := statsJSON{JourneyID: journeyID, Version: version, Nodes: make([]nodeStatsJSON, 0, len(order))}
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
	if t.Entries > 0 {
		js.ConversionRate = float64(t.Converted) / float64(t.Entries)
	}
	out.Journey = js
	return out
}

// journeyStats answers the report of a journey version for workspace ws:
// ?version=N, default the live version (the draft's nodes, all zero, for a
// journey never published).
func (s *Server) journeyStats(c *fiber.Ctx, ws string) error {
	j, err := s.store.GetJourney(c.UserContext(), ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	version := j.LiveVersion
	if raw := c.Query("version"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return httpkit.BadRequest("version: want a published version number, got %q", raw)
		}
		version = n
	}
	doc, err := s.journeys.Document(c.UserContext(), ws, j.ID, version)
	if errors.Is(err, store.ErrNotFound) && version > 0 {
		return httpkit.NewError(fiber.StatusNotFound, "not_found", "journey %s has no version %d", j.ID, version)
	}
	if err != nil {
		return httpkit.JourneyError(err)
	}
	var raw store.JourneyStats
	var older map[string]string
	if version > 0 {
		raw, err = s.store.JourneyStats(c.UserContext(), ws, j.ID, version)
		if err != nil {
			return err
		}
		// Runs a publish or rollback brought to this version keep their
		// steps on the nodes of the version they ran on.
		if missing := nodesNotIn(doc, raw); len(missing) > 0 {
			if older, err = s.journeys.NodeKinds(c.UserContext(), ws, j.ID, version, missing); err != nil {
				return err
			}
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(buildStats(j.ID, version, doc, older, raw))
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

func (s *Server) apiJourneyStats(c *fiber.Ctx) error {
	return s.journeyStats(c, httpkit.APIKey(c).WorkspaceID)
}

func (s *Server) journeyStatsUI(c *fiber.Ctx) error {
	return s.journeyStats(c, httpkit.Workspace(c))
}
