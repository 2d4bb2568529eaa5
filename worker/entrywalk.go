package worker

import (
	"context"
	"sync"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// Instant steps at entry. A new run's first nodes are often pure: the
// trigger, a condition or switch on the entry event, a random split, an
// exit, a delay or a wait for an event (which only park the run). An
// entry walks them before it commits, and the run enters where the walk
// stopped, with their ledger, in the entry's own commit (store.EnterRun,
// store.EnterWebhook): a run that such steps finish never needs a task,
// and one that reaches an action gets its first task at the action. The
// ledger is the one a task would have written; the steps are committed
// atomically with the entry, so an entry is still never lost and a step
// still runs once. docs/performance.md has the reasoning and the figures.
//
// What the walk may read of the profile is what the entry knows of it
// when it commits (EntryProfile): the whole profile when the caller wrote
// or read it before entering, only the fields its own statement writes
// otherwise (a webhook's one-commit entry: external id, email, phone).
// The walk stops before the first node that reads anything else, and that
// node is the first step of the run's first task, which reads the stored
// profile as always.

// EntryProfile is what an entry knows of its profile when it commits.
type EntryProfile struct {
	// Profile holds the fields the entry knows.
	Profile store.Profile
	// Whole says Profile is the whole stored profile, attributes included:
	// the caller wrote it or read it before entering.
	Whole bool
	// Known names the built-in fields of Profile the entry writes
	// ("external_id", "email", "phone", "timezone", "locale") when Whole
	// is false.
	Known []string
}

// WholeProfile is a profile the caller wrote or read before entering.
func WholeProfile(p store.Profile) *EntryProfile { return &EntryProfile{Profile: p, Whole: true} }

// knows reports whether the entry knows every field of the profile in use.
func (k *EntryProfile) knows(use profileUse) bool {
	if !use.any && len(use.names) == 0 {
		return true
	}
	if k == nil {
		return false
	}
	if k.Whole {
		return true
	}
	if use.any {
		return false
	}
	for _, name := range use.names {
		if !k.has(name) {
			return false
		}
	}
	return true
}

func (k *EntryProfile) has(name string) bool {
	if k == nil {
		return false
	}
	if k.Whole {
		return true
	}
	for _, n := range k.Known {
		if n == name {
			return true
		}
	}
	return false
}

// values is the profile as expressions see it, limited to what is known.
func (k *EntryProfile) values() map[string]any {
	if k == nil {
		return map[string]any{}
	}
	p := k.Profile
	all := expression.Profile(expression.ProfileFields{ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone, Locale: p.Locale}, p.Attributes)
	if k.Whole {
		return all
	}
	m := make(map[string]any, len(k.Known))
	for _, n := range k.Known {
		m[n] = all[n]
	}
	return m
}

// profileUse is what a node's expressions read of the profile: the fields
// it names (profile.email, profile["plan"]), or any when it uses the
// profile in a way that names no field (profile[key], len(profile)).
type profileUse struct {
	names []string
	any   bool
}

// profileUses caches profileUse per compiled node (versions are
// immutable, so is what their nodes read).
var profileUses sync.Map // *flows.CompiledNode → profileUse

func profileReads(n *flows.CompiledNode) profileUse {
	if v, ok := profileUses.Load(n); ok {
		return v.(profileUse)
	}
	var use profileUse
	if len(n.Templates) > 0 {
		use.any = true // not analysed: none of the instant kinds has one
	}
	seen := map[string]bool{}
	for _, p := range n.Programs {
		names, any := exprProfileReads(p.Source())
		use.any = use.any || any
		for _, name := range names {
			if !seen[name] {
				seen[name] = true
				use.names = append(use.names, name)
			}
		}
	}
	profileUses.Store(n, use)
	return use
}

// exprProfileReads parses an expression and lists the profile fields it
// reads by name; any is true when it uses `profile` otherwise (or does
// not parse: then nothing is assumed).
func exprProfileReads(src string) (names []string, any bool) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, true
	}
	v := &profileVisitor{}
	ast.Walk(&tree.Node, v)
	return v.names, v.idents > v.named
}

type profileVisitor struct {
	names         []string
	idents, named int // uses of the identifier profile; those that name a field
}

func (v *profileVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == "profile" {
			v.idents++
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "in_segment" {
			v.idents++ // a saved segment may read any of the profile
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || id.Value != "profile" {
			return
		}
		if s, ok := n.Property.(*ast.StringNode); ok && !n.Method {
			v.named++
			v.names = append(v.names, s.Value)
		}
	}
}

// instantAtEntry reports whether node n may run before the entry commits:
// a pure node reading only the run, the entry event and the profile
// fields the entry knows.
func (x *exec) instantAtEntry(n *flows.CompiledNode) bool {
	if n.Spec.Category == nodes.Trigger {
		return true
	}
	if n.Spec.Acts {
		return false
	}
	switch n.Kind {
	case "condition", "switch", "exit", "wait_event":
	case "split":
		if n.Config.String("strategy") == "bandit" {
			return false // reads the split's learned counts
		}
	case "delay":
		switch n.Config.String("mode") {
		case "best_time":
			return false // reads what the profile's engagement taught
		case "until_time", "until_date":
			// The wake time is in the node's time zone, else the
			// profile's, else the journey's.
			if n.Config.String("timezone") == "" && !x.entry.has("timezone") {
				return false
			}
		}
	default:
		return false
	}
	return x.entry.knows(profileReads(n))
}

// walkEntry walks a new run's instant steps (see above) and leaves en as
// the entry the store commits: the run where the walk stopped, the ledger
// of the steps, and the task that takes the run on from there (none when
// the walk finished it). When the walk cannot be taken as it is (a step
// failed), en is left at the trigger, as an entry without the walk.
func (e *Engine) walkEntry(ctx context.Context, en *Entry, c *flows.Compiled, j store.Journey, ev EntryEvent, known *EntryProfile) {
	run := en.Run
	run.Status, run.Sequence = store.RunActive, 1
	x := &exec{e: e, run: run, journey: j, c: c, now: run.EnteredAt, seq: 1, first: true, entry: known, atEntry: true}
	if known != nil {
		x.profile = known.Profile
	}
	if !known.has("timezone") {
		x.profile.Timezone = ""
	}
	x.env = e.envWith(run, ev, j, x.profile, x.now)
	x.env.Profile = known.values()
	if err := x.walk(ctx); err != nil || x.noCommit || x.attrs != nil || x.fields != nil || x.convert != nil ||
		x.retryAt != nil || x.pendingDelivery != nil || len(x.ledger) == 0 {
		return
	}
	u := x.updateOf()
	run.Status, run.CurrentNode, run.Sequence, run.Steps = u.Status, u.CurrentNode, u.Sequence, u.Steps
	run.WaitUntil, run.WaitEvent, run.Error, run.NextDueAt = u.WaitUntil, u.WaitEvent, u.Error, nil
	if u.Outbox != nil {
		due := u.Outbox.ProcessAt
		run.NextDueAt = &due
		en.First.Sequence, en.First.ProcessAt = u.Sequence, due
	}
	en.Run, en.Steps = run, u.Ledger
}
