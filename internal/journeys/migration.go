package journeys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// Migration planner and rollback (issue 10). Publishing over a live version
// says, for each node of the live version, what happens to the runs parked
// there: they stay on the old version (the default), move to a node of the
// new version, or exit. See docs/live-edits.md.

// Plan actions.
const (
	PlanStay = "stay"
	PlanMove = "move"
	PlanExit = "exit"
)

// NodePlan is what happens to the runs at one node of the live version.
type NodePlan struct {
	Action string `json:"action"`
	To     string `json:"to,omitempty"`
}

// Plan maps node ids of the live version to what happens to their runs;
// nodes left out stay.
type Plan map[string]NodePlan

// PublishRequest is a publish with an optional migration plan.
type PublishRequest struct {
	Plan   Plan
	DryRun bool
	By     string
	// DraftRevision, when set, is the draft revision the caller reviewed:
	// a draft saved since is not published (ErrConflict).
	DraftRevision int
	// Audit names the actor; the publish writes its audit entry in the same
	// transaction (Action, TargetType and TargetID are set here).
	Audit *store.AuditEntry
}

// NodeMigration is one live node's line of the plan.
type NodeMigration struct {
	NodeID  string `json:"node_id"`
	Title   string `json:"title"`
	Kind    string `json:"kind"`
	Deleted bool   `json:"deleted"` // not in the new version
	// Waiting counts parked runs (waiting, waiting for an event, paused):
	// the plan applies to them. Active counts runs in the middle of a step:
	// they always stay on their version.
	Waiting int64  `json:"waiting"`
	Active  int64  `json:"active"`
	Action  string `json:"action"`
	To      string `json:"to,omitempty"`
}

// MigrationReport is a plan's dry run or its result.
type MigrationReport struct {
	FromVersion int             `json:"from_version"` // the live version (0: first publish)
	Version     int             `json:"version,omitempty"`
	DryRun      bool            `json:"dry_run"`
	Nodes       []NodeMigration `json:"nodes"`
	// Totals of parked runs by what happens to them (dry run: what would).
	Stay int64 `json:"stay"`
	Move int64 `json:"move"`
	Exit int64 `json:"exit"`
	// After applying: how many moved and exited, and the runs that moved
	// on by themselves meanwhile and so stayed.
	Moved   int      `json:"moved"`
	Exited  int      `json:"exited"`
	Skipped []string `json:"skipped,omitempty"`
	// NewNodes are the new version's nodes a run can move to.
	NewNodes []NodeRef `json:"new_nodes,omitempty"`
}

// NodeRef names a node.
type NodeRef struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Kind  string `json:"kind"`
}

// PlanError lists what is wrong with a migration plan, each problem naming
// the live node.
type PlanError struct {
	Problems []flows.Problem
}

func (e *PlanError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid migration plan"
	}
	s := "invalid migration plan: " + e.Problems[0].String()
	if n := len(e.Problems) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}

// ErrNothingToRollBack: the journey has no earlier version to go back to.
var ErrNothingToRollBack = errors.New("nothing to roll back to")

// candidatesPage is how many runs the planner reads at a time.
const candidatesPage = 1000

// Publish validates the draft in full (connectors included), compiles every
// expression and template, and freezes it as the next version. Runs on the
// live version stay there: it is PublishPlan with an empty plan (so a
// node deleted while runs wait there is refused: see PlanError).
func (s *Service) Publish(ctx context.Context, workspaceID, id, by string) (store.JourneyVersion, error) {
	v, _, err := s.PublishPlan(ctx, workspaceID, id, PublishRequest{By: by})
	return v, err
}

// compileDraft validates and compiles the draft for publishing.
func (s *Service) compileDraft(ctx context.Context, workspaceID string, cur store.Journey) (*flows.Compiled, []byte, error) {
	j, err := flows.Parse(cur.Draft)
	if err != nil {
		return nil, nil, err
	}
	opts, err := s.options(ctx, workspaceID, nil)
	if err != nil {
		return nil, nil, err
	}
	c, problems := flows.Compile(s.reg, j, opts)
	if len(problems) > 0 {
		return nil, nil, &InvalidError{Problems: problems}
	}
	canonical, err := flows.Marshal(j)
	if err != nil {
		return nil, nil, err
	}
	return c, canonical, nil
}

// PublishPlan publishes the draft with a migration plan, or with DryRun
// only reports what the plan would do. Applying is one transaction: the new
// version goes live and the chosen runs move or exit together, with the
// audit entry. A plan that is wrong (unknown node, a target missing from the
// new version, a deleted node holding parked runs left to stay) is a
// *PlanError.
func (s *Service) PublishPlan(ctx context.Context, workspaceID, id string, req PublishRequest) (store.JourneyVersion, MigrationReport, error) {
	cur, err := s.store.GetJourney(ctx, workspaceID, id)
	if err != nil {
		return store.JourneyVersion{}, MigrationReport{}, err
	}
	if cur.Status == store.JourneyArchived {
		return store.JourneyVersion{}, MigrationReport{}, fmt.Errorf("journey %s is archived: %w", id, store.ErrConflict)
	}
	if req.DraftRevision > 0 && req.DraftRevision != cur.DraftRevision {
		return store.JourneyVersion{}, MigrationReport{}, fmt.Errorf("the draft is at revision %d, not the reviewed %d: %w", cur.DraftRevision, req.DraftRevision, store.ErrConflict)
	}
	c, canonical, err := s.compileDraft(ctx, workspaceID, cur)
	if err != nil {
		return store.JourneyVersion{}, MigrationReport{}, err
	}
	return s.publishCompiled(ctx, cur, c, canonical, nil, 0, req, "journey.publish")
}

func (s *Service) publishCompiled(ctx context.Context, cur store.Journey, c *flows.Compiled, canonical, draft []byte, rollbackOf int, req PublishRequest, action string) (store.JourneyVersion, MigrationReport, error) {
	rep, err := s.report(ctx, cur, c, req.Plan)
	if err != nil {
		return store.JourneyVersion{}, rep, err
	}
	rep.DryRun = req.DryRun
	if req.DryRun {
		return store.JourneyVersion{}, rep, nil
	}
	moves, err := s.moves(ctx, cur, c, rep, req.By)
	if err != nil {
		return store.JourneyVersion{}, rep, err
	}
	p := store.PublishPlan{
		WorkspaceID: cur.WorkspaceID, JourneyID: cur.ID, Document: canonical, By: req.By, ExpectLive: cur.LiveVersion,
		RollbackOf: rollbackOf, Draft: draft, Plan: planJSON(req.Plan), Moves: moves, TaskType: worker.TaskAdvance,
		DraftRevision: cur.DraftRevision, // the revision compiled above is the one published
	}
	if req.Audit != nil {
		a := *req.Audit
		a.WorkspaceID, a.Action, a.TargetType, a.TargetID = cur.WorkspaceID, action, "journey", cur.ID
		if a.Summary == nil {
			a.Summary = map[string]any{}
		}
		if len(req.Plan) > 0 {
			a.Summary["plan"] = planJSON(req.Plan)
		}
		p.Audit = &a
	}
	out, err := s.store.PublishWithMigration(ctx, p)
	if err != nil {
		return store.JourneyVersion{}, rep, err
	}
	rep.Version, rep.Moved, rep.Exited, rep.Skipped = out.Version.Version, out.Moved, out.Exited, out.Skipped
	return out.Version, rep, nil
}

func planJSON(p Plan) map[string]any {
	out := map[string]any{}
	for id, np := range p {
		m := map[string]any{"action": np.Action}
		if np.To != "" {
			m["to"] = np.To
		}
		out[id] = m
	}
	return out
}

// report counts the live version's runs by node and checks the plan
// against the live and the new version.
func (s *Service) report(ctx context.Context, cur store.Journey, c *flows.Compiled, plan Plan) (MigrationReport, error) {
	rep := MigrationReport{FromVersion: cur.LiveVersion, Nodes: []NodeMigration{}} // [] on a first publish, never null
	for _, n := range c.Journey.Nodes {
		if sp, ok := s.reg.Lookup(n.Kind); ok && sp.Category == nodes.Trigger {
			continue
		}
		rep.NewNodes = append(rep.NewNodes, NodeRef{ID: n.ID, Title: titleOf(n), Kind: n.Kind})
	}
	if cur.LiveVersion == 0 {
		if len(plan) > 0 {
			return rep, &PlanError{Problems: []flows.Problem{{Field: "plan", Message: "the journey has no live version: there are no runs to migrate"}}}
		}
		return rep, nil
	}
	live, err := s.Document(ctx, cur.WorkspaceID, cur.ID, cur.LiveVersion)
	if err != nil {
		return rep, err
	}
	counts, err := s.store.CountVersionRuns(ctx, cur.ID, cur.LiveVersion)
	if err != nil {
		return rep, err
	}
	waiting, active := map[string]int64{}, map[string]int64{}
	for _, n := range counts {
		if slices.Contains(store.MigratableStatuses, n.Status) {
			waiting[n.NodeID] += n.Count
		} else {
			active[n.NodeID] += n.Count
		}
	}
	var problems []flows.Problem
	liveIDs := map[string]bool{}
	for _, n := range live.Nodes {
		liveIDs[n.ID] = true
	}
	ids := make([]string, 0, len(plan))
	for id := range plan {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if !liveIDs[id] {
			problems = append(problems, flows.Problem{NodeID: id, Field: "plan", Message: fmt.Sprintf("%q is not a node of the live version %d", id, cur.LiveVersion)})
		}
	}
	for _, n := range live.Nodes {
		np, given := plan[n.ID]
		if np.Action == "" {
			np.Action = PlanStay
		}
		_, inNew := c.Nodes[n.ID]
		line := NodeMigration{NodeID: n.ID, Title: titleOf(n), Kind: n.Kind, Deleted: !inNew, Waiting: waiting[n.ID], Active: active[n.ID], Action: np.Action, To: np.To}
		bad := func(field, format string, args ...any) {
			problems = append(problems, flows.Problem{NodeID: n.ID, Field: field, Message: fmt.Sprintf(format, args...)})
		}
		switch np.Action {
		case PlanStay:
			if np.To != "" {
				bad("plan.to", "a node whose runs stay takes no target node")
			}
			if !inNew && line.Waiting > 0 {
				how := "left to stay"
				if !given {
					how = "not in the plan"
				}
				bad("plan.action", "the step %s is deleted in the new version and %d run(s) wait there (%s): move them to a step of the new version or exit them", stepName(n.Title, n.ID), line.Waiting, how)
			}
		case PlanMove:
			to, ok := c.Nodes[np.To]
			switch {
			case np.To == "":
				bad("plan.to", "moving runs needs a target node of the new version")
			case !ok:
				bad("plan.to", "%q is not a node of the new version", np.To)
			case to.Spec.Category == nodes.Trigger:
				bad("plan.to", "runs cannot move to a trigger (%s)", stepName(to.Title, to.ID))
			}
		case PlanExit:
			if np.To != "" {
				bad("plan.to", "exiting runs takes no target node")
			}
		default:
			bad("plan.action", "unknown action %q (stay, move or exit)", np.Action)
		}
		if sp, ok := s.reg.Lookup(n.Kind); ok && sp.Category == nodes.Trigger && line.Waiting == 0 && line.Active == 0 && np.Action == PlanStay {
			continue // triggers hold no runs: not worth a line
		}
		switch np.Action {
		case PlanMove:
			rep.Move += line.Waiting
		case PlanExit:
			rep.Exit += line.Waiting
		default:
			rep.Stay += line.Waiting
		}
		rep.Nodes = append(rep.Nodes, line)
	}
	if len(problems) > 0 {
		return rep, &PlanError{Problems: problems}
	}
	return rep, nil
}

// stepName names a step in a problem's message as people know it: its
// title, with the id when the title is not the id.
func stepName(title, id string) string {
	if title == "" || title == id {
		return fmt.Sprintf("%q", id)
	}
	return fmt.Sprintf("%q (%s)", title, id)
}

func titleOf(n flows.Node) string {
	if n.Title != "" {
		return n.Title
	}
	return n.ID
}

// moves reads the parked runs of every moved or exited node and computes
// each one's landing (delays recomputed from when it started waiting).
func (s *Service) moves(ctx context.Context, cur store.Journey, c *flows.Compiled, rep MigrationReport, by string) ([]store.RunMigration, error) {
	now := s.now().UTC()
	var out []store.RunMigration
	for _, line := range rep.Nodes {
		if line.Waiting == 0 || (line.Action != PlanMove && line.Action != PlanExit) {
			continue
		}
		after := ""
		for {
			page, err := s.store.ListMigrationCandidates(ctx, cur.ID, cur.LiveVersion, []string{line.NodeID}, after, candidatesPage)
			if err != nil {
				return nil, err
			}
			for _, r := range page {
				m, err := s.move(ctx, cur, c, line, r, now, by)
				if err != nil {
					return nil, err
				}
				out = append(out, m)
			}
			if len(page) < candidatesPage {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	return out, nil
}

func (s *Service) move(ctx context.Context, cur store.Journey, c *flows.Compiled, line NodeMigration, r store.MigrationCandidate, now time.Time, by string) (store.RunMigration, error) {
	m := store.RunMigration{RunID: r.ID, ExpectSequence: r.Sequence, ExpectStatus: r.Status, FromNode: r.CurrentNode}
	detail := map[string]any{"from_version": r.Version, "from_node": r.CurrentNode, "by": by,
		"waiting_since": r.WaitingSince.UTC().Format(time.RFC3339Nano)}
	if line.Action == PlanExit {
		m.Exit = true
		detail["reason"] = "exited by the migration plan"
		m.Detail = detail
		return m, nil
	}
	var p store.Profile
	if to := c.Nodes[line.To]; to != nil && to.Kind == "delay" {
		var err error
		if p, err = s.store.GetProfile(ctx, r.ProfileID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return m, err
		}
	}
	t, err := worker.PlanMigration(c, line.To, r.Run, cur, p, r.WaitingSince, now)
	if err != nil {
		return m, err
	}
	m.ToNode, m.Status, m.WaitUntil, m.WaitEvent, m.NextDueAt = line.To, t.Status, t.WaitUntil, t.WaitEvent, t.NextDueAt
	detail["to_node"] = line.To
	if t.WaitUntil != nil {
		detail["wake_at"] = t.WaitUntil.UTC().Format(time.RFC3339Nano)
	}
	m.Detail = detail
	return m, nil
}

// Rollback makes the version that was live before the current one live
// again, as one action: its document is published as a new version (the
// history stays linear and every version stays readable), and every parked
// run of the current version moves back to the node with the same id, with
// delays recomputed from when it started waiting. Runs at a node the
// restored version lacks stay where they are. The draft is reset to the
// restored document unless it holds unpublished edits. Rolling back twice
// returns to where you started.
func (s *Service) Rollback(ctx context.Context, workspaceID, id string, by string, audit *store.AuditEntry) (store.JourneyVersion, MigrationReport, error) {
	cur, err := s.store.GetJourney(ctx, workspaceID, id)
	if err != nil {
		return store.JourneyVersion{}, MigrationReport{}, err
	}
	if cur.Status == store.JourneyArchived {
		return store.JourneyVersion{}, MigrationReport{}, fmt.Errorf("journey %s is archived: %w", id, store.ErrConflict)
	}
	prev, err := s.previousVersion(ctx, cur)
	if err != nil {
		return store.JourneyVersion{}, MigrationReport{}, err
	}
	old, err := s.store.GetJourneyVersion(ctx, workspaceID, id, prev)
	if err != nil {
		return store.JourneyVersion{}, MigrationReport{}, err
	}
	j, err := flows.Parse(old.Document)
	if err != nil {
		return store.JourneyVersion{}, MigrationReport{}, fmt.Errorf("stored version %d does not parse: %w", prev, err)
	}
	// Connectors are not re-checked: the version ran before, and a
	// connector removed since fails at send time with a clear reason (as
	// it does for runs still on that version).
	c, problems := flows.Compile(s.reg, j, flows.ValidateOptions{})
	if len(problems) > 0 {
		return store.JourneyVersion{}, MigrationReport{}, &InvalidError{Problems: problems}
	}
	canonical, err := flows.Marshal(j)
	if err != nil {
		return store.JourneyVersion{}, MigrationReport{}, err
	}
	live, err := s.Document(ctx, workspaceID, id, cur.LiveVersion)
	if err != nil {
		return store.JourneyVersion{}, MigrationReport{}, err
	}
	var draft []byte
	if liveDoc, err := flows.Marshal(live); err == nil && string(liveDoc) == string(cur.Draft) {
		draft = canonical
	}
	if audit != nil {
		a := *audit
		a.Summary = map[string]any{"restored_version": prev}
		audit = &a
	}
	req := PublishRequest{By: by, Audit: audit}
	rep, moves, err := s.rollbackMoves(ctx, cur, live, c, prev, by)
	if err != nil {
		return store.JourneyVersion{}, rep, err
	}
	plan := Plan{}
	for _, l := range rep.Nodes {
		if l.Action == PlanMove {
			plan[l.NodeID] = NodePlan{Action: PlanMove, To: l.To}
		}
	}
	p := store.PublishPlan{
		WorkspaceID: workspaceID, JourneyID: id, Document: canonical, By: by, ExpectLive: cur.LiveVersion,
		RollbackOf: cur.LiveVersion, Draft: draft, Plan: planJSON(plan), Moves: moves, TaskType: worker.TaskAdvance,
		DraftRevision: cur.DraftRevision, // edits saved while the rollback is planned are kept
	}
	if req.Audit != nil {
		a := *req.Audit
		a.WorkspaceID, a.Action, a.TargetType, a.TargetID = workspaceID, "journey.rollback", "journey", id
		p.Audit = &a
	}
	out, err := s.store.PublishWithMigration(ctx, p)
	if err != nil {
		return store.JourneyVersion{}, rep, err
	}
	rep.Version, rep.Moved, rep.Exited, rep.Skipped = out.Version.Version, out.Moved, out.Exited, out.Skipped
	return out.Version, rep, nil
}

// rollbackMoves plans a rollback: every parked run of the live version
// goes back to the node a migration took it from (when that migration came
// from the restored version), else to the node with the same id; runs at a
// node the restored version lacks stay.
func (s *Service) rollbackMoves(ctx context.Context, cur store.Journey, live *flows.Journey, c *flows.Compiled, prev int, by string) (MigrationReport, []store.RunMigration, error) {
	rep := MigrationReport{FromVersion: cur.LiveVersion, Nodes: []NodeMigration{}} // [] on a first publish, never null
	counts, err := s.store.CountVersionRuns(ctx, cur.ID, cur.LiveVersion)
	if err != nil {
		return rep, nil, err
	}
	waiting, active := map[string]int64{}, map[string]int64{}
	for _, n := range counts {
		if slices.Contains(store.MigratableStatuses, n.Status) {
			waiting[n.NodeID] += n.Count
		} else {
			active[n.NodeID] += n.Count
		}
	}
	target := func(nodeID string) bool {
		n, ok := c.Nodes[nodeID]
		return ok && n.Spec.Category != nodes.Trigger
	}
	now := s.now().UTC()
	var moves []store.RunMigration
	for _, n := range live.Nodes {
		line := NodeMigration{NodeID: n.ID, Title: titleOf(n), Kind: n.Kind, Deleted: c.Nodes[n.ID] == nil, Waiting: waiting[n.ID], Active: active[n.ID], Action: PlanStay}
		if target(n.ID) {
			line.Action, line.To = PlanMove, n.ID
		}
		after := ""
		for line.Waiting > 0 {
			page, err := s.store.ListMigrationCandidates(ctx, cur.ID, cur.LiveVersion, []string{n.ID}, after, candidatesPage)
			if err != nil {
				return rep, nil, err
			}
			for _, r := range page {
				to := ""
				switch {
				case r.MigratedFrom != "" && r.MigratedFromVersion == prev && target(r.MigratedFrom):
					to = r.MigratedFrom
				case target(n.ID):
					to = n.ID
				}
				if to == "" {
					rep.Stay++
					continue
				}
				m, err := s.move(ctx, cur, c, NodeMigration{NodeID: n.ID, Action: PlanMove, To: to}, r, now, by)
				if err != nil {
					return rep, nil, err
				}
				m.Detail["rollback"] = true
				moves = append(moves, m)
				rep.Move++
				if line.To != to {
					line.Action, line.To = PlanMove, to
				}
			}
			if len(page) < candidatesPage {
				break
			}
			after = page[len(page)-1].ID
		}
		if line.Waiting > 0 || line.Active > 0 {
			rep.Nodes = append(rep.Nodes, line)
		}
	}
	return rep, moves, nil
}

// previousVersion is the version that was live before the live one: from
// the planner's publish record, else the highest version below it.
func (s *Service) previousVersion(ctx context.Context, cur store.Journey) (int, error) {
	if cur.LiveVersion == 0 {
		return 0, fmt.Errorf("journey %s was never published: %w", cur.ID, ErrNothingToRollBack)
	}
	rec, err := s.store.GetJourneyPublish(ctx, cur.ID, cur.LiveVersion)
	switch {
	case err == nil && rec.PreviousVersion > 0:
		return rec.PreviousVersion, nil
	case err == nil:
		return 0, fmt.Errorf("version %d was the journey's first: %w", cur.LiveVersion, ErrNothingToRollBack)
	case !errors.Is(err, store.ErrNotFound):
		return 0, err
	}
	if cur.LiveVersion <= 1 {
		return 0, fmt.Errorf("version %d was the journey's first: %w", cur.LiveVersion, ErrNothingToRollBack)
	}
	return cur.LiveVersion - 1, nil
}

// PreviousVersion is the version a rollback of the live version restores
// (ErrNothingToRollBack when there is none).
func (s *Service) PreviousVersion(ctx context.Context, workspaceID, id string) (int, error) {
	cur, err := s.store.GetJourney(ctx, workspaceID, id)
	if err != nil {
		return 0, err
	}
	return s.previousVersion(ctx, cur)
}
