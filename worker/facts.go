package worker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/store"
)

// The history an expression reads (count, sum, last("name"),
// first_seen, last_seen, in_segment; docs/expressions.md, "Behaviour
// over time") comes from a Facts bound to one profile, which every
// environment the engine builds carries (env and envWith). The same
// question twice while a step runs asks the store once.

// HistoryStore is the event history the expression functions read.
type HistoryStore interface {
	CountProfileEvents(ctx context.Context, profileID, name string, since, until time.Time, limit int) (int, error)
	SumProfileEvents(ctx context.Context, profileID, name, property string, since, until time.Time, limit int) (float64, error)
	LastProfileEvent(ctx context.Context, profileID, name string, until time.Time) (store.Event, error)
	ProfileSeen(ctx context.Context, profileID string, until time.Time, first bool) (time.Time, error)
}

// SegmentMatcher decides whether the profile an environment describes
// matches a workspace's saved segment (internal/segments).
type SegmentMatcher interface {
	Match(ctx context.Context, workspaceID, name string, env *expression.Env) (bool, error)
}

// History limits.
const (
	// MaxSegmentDepth bounds saved segments within saved segments: a
	// segment's expression may call in_segment, whose segment may call
	// it again, this many levels deep (a cycle ends here too).
	MaxSegmentDepth = 4
	// MaxFactsLookups bounds the distinct history lookups one Facts
	// makes (one step: its condition, filters and templates).
	MaxFactsLookups = 64
	// historyTimeout bounds one lookup made without a caller's context.
	historyTimeout = 10 * time.Second
)

// ErrNoSegments is in_segment's error where saved segments are not wired.
var ErrNoSegments = errors.New("saved segments are not available here")

// Facts answers the expression functions about one profile's history
// from a HistoryStore, memoising what it asked. It implements
// expression.Facts. Build it with AttachHistory.
type Facts struct {
	ctx         context.Context // nil: each lookup gets historyTimeout
	st          HistoryStore    // nil: no history here
	seg         SegmentMatcher  // nil: no saved segments here
	workspaceID string
	profileID   string
	depth       int             // saved segments entered so far
	env         *expression.Env // what in_segment evaluates segments against
	memo        *factsMemo      // shared by the nested segments' Facts
}

type factsMemo struct {
	mu      sync.Mutex
	answers map[string]any
	lookups int
}

// AttachHistory gives env the history of the profile (profileID in
// workspaceID) read from st, and saved segments matched by seg; either
// may be nil (the functions then fail with a clear error). ctx bounds
// the lookups (nil: each gets its own 10 s). It returns env.
func AttachHistory(ctx context.Context, env *expression.Env, st HistoryStore, seg SegmentMatcher, workspaceID, profileID string) *expression.Env {
	f := &Facts{ctx: ctx, st: st, seg: seg, workspaceID: workspaceID, profileID: profileID, env: env,
		memo: &factsMemo{answers: map[string]any{}}}
	env.Facts = f
	return env
}

// bindContext makes env's lookups use ctx (a step's context).
func bindContext(env *expression.Env, ctx context.Context) {
	if f, ok := env.Facts.(*Facts); ok {
		f.ctx = ctx
	}
}

// Depth is how many saved segments deep this Facts answers (0 outside
// any segment).
func (f *Facts) Depth() int { return f.depth }

// lookup answers key from the memo, or asks fn once and remembers the
// answer. The lock is not held while fn runs: in_segment evaluates a
// segment whose expression asks this memo again.
func (f *Facts) lookup(key string, fn func(ctx context.Context) (any, error)) (any, error) {
	m := f.memo
	m.mu.Lock()
	if v, ok := m.answers[key]; ok {
		m.mu.Unlock()
		return v, nil
	}
	if m.lookups >= MaxFactsLookups {
		m.mu.Unlock()
		return nil, fmt.Errorf("more than %d different history lookups in one step", MaxFactsLookups)
	}
	m.lookups++
	m.mu.Unlock()
	ctx := f.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, historyTimeout)
	defer cancel()
	v, err := fn(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.answers[key] = v
	m.mu.Unlock()
	return v, nil
}

func (f *Facts) store() (HistoryStore, error) {
	if f.st == nil || f.profileID == "" {
		return nil, expression.ErrNoHistory
	}
	return f.st, nil
}

func timeKey(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 36) }

// CountEvents implements expression.Facts.
func (f *Facts) CountEvents(name string, since, until time.Time, limit int) (int, error) {
	st, err := f.store()
	if err != nil {
		return 0, err
	}
	v, err := f.lookup("count\x00"+name+"\x00"+timeKey(since)+"\x00"+timeKey(until)+"\x00"+strconv.Itoa(limit), func(ctx context.Context) (any, error) {
		return st.CountProfileEvents(ctx, f.profileID, name, since, until, limit)
	})
	if err != nil {
		return 0, err
	}
	return v.(int), nil
}

// SumEvents implements expression.Facts.
func (f *Facts) SumEvents(name, property string, since, until time.Time, limit int) (float64, error) {
	st, err := f.store()
	if err != nil {
		return 0, err
	}
	v, err := f.lookup("sum\x00"+name+"\x00"+property+"\x00"+timeKey(since)+"\x00"+timeKey(until)+"\x00"+strconv.Itoa(limit), func(ctx context.Context) (any, error) {
		return st.SumProfileEvents(ctx, f.profileID, name, property, since, until, limit)
	})
	if err != nil {
		return 0, err
	}
	return v.(float64), nil
}

type lastAnswer struct {
	ev expression.Event
	ok bool
}

// LastEvent implements expression.Facts.
func (f *Facts) LastEvent(name string, until time.Time) (expression.Event, bool, error) {
	st, err := f.store()
	if err != nil {
		return expression.Event{}, false, err
	}
	v, err := f.lookup("last\x00"+name+"\x00"+timeKey(until), func(ctx context.Context) (any, error) {
		ev, err := st.LastProfileEvent(ctx, f.profileID, name, until)
		if errors.Is(err, store.ErrNotFound) {
			return lastAnswer{}, nil
		}
		if err != nil {
			return nil, err
		}
		return lastAnswer{ev: expression.Event{Name: ev.Name, Properties: ev.Properties, OccurredAt: ev.OccurredAt}, ok: true}, nil
	})
	if err != nil {
		return expression.Event{}, false, err
	}
	a := v.(lastAnswer)
	return a.ev, a.ok, nil
}

type seenAnswer struct {
	t  time.Time
	ok bool
}

func (f *Facts) seen(until time.Time, first bool) (time.Time, bool, error) {
	st, err := f.store()
	if err != nil {
		return time.Time{}, false, err
	}
	v, err := f.lookup("seen\x00"+strconv.FormatBool(first)+"\x00"+timeKey(until), func(ctx context.Context) (any, error) {
		t, err := st.ProfileSeen(ctx, f.profileID, until, first)
		if errors.Is(err, store.ErrNotFound) {
			return seenAnswer{}, nil
		}
		if err != nil {
			return nil, err
		}
		return seenAnswer{t: t, ok: true}, nil
	})
	if err != nil {
		return time.Time{}, false, err
	}
	a := v.(seenAnswer)
	return a.t, a.ok, nil
}

// FirstSeen implements expression.Facts.
func (f *Facts) FirstSeen(until time.Time) (time.Time, bool, error) { return f.seen(until, true) }

// LastSeen implements expression.Facts.
func (f *Facts) LastSeen(until time.Time) (time.Time, bool, error) { return f.seen(until, false) }

// InSegment implements expression.Facts: the saved segment is matched
// against a copy of the environment whose Facts is one level deeper.
func (f *Facts) InSegment(name string) (bool, error) {
	if f.seg == nil || f.env == nil {
		return false, ErrNoSegments
	}
	if f.depth >= MaxSegmentDepth {
		return false, fmt.Errorf("saved segments nest more than %d deep (does %q contain itself?)", MaxSegmentDepth, name)
	}
	v, err := f.lookup("segment\x00"+name, func(ctx context.Context) (any, error) {
		env := *f.env
		child := *f
		child.depth++
		child.env = &env
		child.ctx = ctx
		env.Facts = &child
		return f.seg.Match(ctx, f.workspaceID, name, &env)
	})
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

var _ expression.Facts = (*Facts)(nil)
