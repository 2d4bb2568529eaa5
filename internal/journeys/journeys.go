// Package journeys is the application service for journey documents: it
// joins flows (parse, validate, compile, diff) with the store, so the API,
// the UI and the CLI create, save, publish and export journeys the same way.
package journeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	connbuiltin "github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// Store is the storage the service needs.
type Store interface {
	CreateJourney(ctx context.Context, j store.Journey) (store.Journey, error)
	GetJourney(ctx context.Context, workspaceID, id string) (store.Journey, error)
	UpdateDraft(ctx context.Context, workspaceID, id string, expectRevision int, name string, draft json.RawMessage, by string) (store.Journey, error)
	PublishJourney(ctx context.Context, workspaceID, id string, document json.RawMessage, by string) (store.JourneyVersion, error)
	GetJourneyVersion(ctx context.Context, workspaceID, id string, version int) (store.JourneyVersion, error)
	ConnectorTypes(ctx context.Context, workspaceID string) (map[string]string, error)

	// Migration planner (migration.go).
	CountVersionRuns(ctx context.Context, journeyID string, version int) ([]store.NodeRunCount, error)
	ListMigrationCandidates(ctx context.Context, journeyID string, version int, nodeIDs []string, afterID string, limit int) ([]store.MigrationCandidate, error)
	PublishWithMigration(ctx context.Context, p store.PublishPlan) (store.PublishOutcome, error)
	GetJourneyPublish(ctx context.Context, journeyID string, version int) (store.JourneyPublish, error)
	GetProfile(ctx context.Context, id string) (store.Profile, error)
}

// InvalidError lists every problem that stops a document from being saved
// or published.
type InvalidError struct {
	Problems []flows.Problem
}

func (e *InvalidError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid journey"
	}
	s := "invalid journey: " + e.Problems[0].String()
	if n := len(e.Problems) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}

// Service creates, saves, publishes and exports journeys.
type Service struct {
	store  Store
	reg    *nodes.Registry
	serves func(connectorType, kind string) bool
	now    func() time.Time
}

// New returns a service over st with the node kinds in reg. Which node
// kinds a connector type carries comes from the built-in connector
// registry, unless WithConnectorTypes hands it another.
func New(st Store, reg *nodes.Registry) *Service {
	return &Service{store: st, reg: reg, serves: builtinServes, now: time.Now}
}

// WithClock makes the migration planner read time from now (a virtual
// clock in tests); delays of moved runs are clamped to it.
func (s *Service) WithClock(now func() time.Time) *Service {
	s.now = now
	return s
}

// builtinServes asks the built-in connector types (connectors/builtin), the
// one place that declares them.
func builtinServes(connectorType, kind string) bool {
	for _, t := range connbuiltin.Types() {
		if t.Name == connectorType {
			return slices.Contains(t.Kinds, kind)
		}
	}
	return false
}

// WithConnectorTypes makes publishing ask serves (the connector registry)
// which node kinds a connector type carries.
func (s *Service) WithConnectorTypes(serves func(connectorType, kind string) bool) *Service {
	s.serves = serves
	return s
}

// Registry returns the node kinds the service validates against.
func (s *Service) Registry() *nodes.Registry { return s.reg }

// Check parses and validates a document without saving it. Connectors are
// checked against the workspace when workspaceID is not empty. A document
// that does not parse is a *flows.ParseError; problems come back as a list.
// Create and SaveDraft validate the same way, once, so a save reports
// exactly the problems Check (the validate API, the editor) reports.
func (s *Service) Check(ctx context.Context, workspaceID string, doc []byte) (*flows.Journey, []flows.Problem, error) {
	j, problems, _, err := s.check(ctx, workspaceID, doc)
	return j, problems, err
}

// missingConnector is a connector lookup that failed: the connector does
// not exist, or cannot carry the node kind.
type missingConnector struct{ name, kind string }

// check is Check that also returns the connector lookups that failed.
func (s *Service) check(ctx context.Context, workspaceID string, doc []byte) (*flows.Journey, []flows.Problem, map[missingConnector]bool, error) {
	j, err := flows.Parse(doc)
	if err != nil {
		return nil, nil, nil, err
	}
	missing := map[missingConnector]bool{}
	opts, err := s.options(ctx, workspaceID, missing)
	if err != nil {
		return nil, nil, nil, err
	}
	return j, flows.Validate(s.reg, j, opts), missing, nil
}

// options checks connectors against the workspace's; each failed lookup
// is noted in missing (when not nil).
func (s *Service) options(ctx context.Context, workspaceID string, missing map[missingConnector]bool) (flows.ValidateOptions, error) {
	if workspaceID == "" {
		return flows.ValidateOptions{}, nil
	}
	types, err := s.store.ConnectorTypes(ctx, workspaceID)
	if err != nil {
		return flows.ValidateOptions{}, err
	}
	return flows.ValidateOptions{ConnectorServes: func(name, kind string) (bool, bool) {
		typ, ok := types[name]
		serves := ok && s.Serves(typ, kind)
		if !serves && missing != nil {
			missing[missingConnector{name, kind}] = true
		}
		return ok, serves
	}}, nil
}

// aboutWorkspace reports whether problem p is about the workspace, not the
// document: a connector field naming a connector that does not exist (yet)
// or cannot carry the step.
func (s *Service) aboutWorkspace(j *flows.Journey, p flows.Problem, missing map[missingConnector]bool) bool {
	if len(missing) == 0 || p.NodeID == "" {
		return false
	}
	for _, n := range j.Nodes {
		if n.ID != p.NodeID {
			continue
		}
		spec, ok := s.reg.Lookup(n.Kind)
		if !ok {
			return false
		}
		for _, f := range spec.Fields {
			if f.Name == p.Field && f.Type == nodes.Connector {
				name, _ := n.Config[f.Name].(string)
				return missing[missingConnector{name, n.Kind}]
			}
		}
		return false
	}
	return false
}

// Serves reports whether a connector type can carry a node kind, as the
// connector registry declares it (the sandbox carries every kind).
func (s *Service) Serves(connectorType, kind string) bool {
	return connectorType == store.SandboxConnector || s.serves(connectorType, kind)
}

// SaveOptions tune Create and SaveDraft.
type SaveOptions struct {
	// AllowInvalid saves a draft that parses but has validation problems
	// (the editor saves work in progress). Without it, a document with
	// problems of its own is refused (an *InvalidError listing every
	// problem); one whose only problems are about the workspace (a
	// connector not created yet) is saved. Either way the problems are
	// returned, as Check reports them; publishing needs none.
	AllowInvalid bool
}

// prepare parses and validates doc once, connectors of the workspace
// included (as Check), and returns the canonical bytes to store.
func (s *Service) prepare(ctx context.Context, workspaceID string, doc []byte, opts SaveOptions) (*flows.Journey, []byte, []flows.Problem, error) {
	j, problems, missing, err := s.check(ctx, workspaceID, doc)
	if err != nil {
		return nil, nil, nil, err
	}
	if !opts.AllowInvalid && slices.ContainsFunc(problems, func(p flows.Problem) bool { return !s.aboutWorkspace(j, p, missing) }) {
		return nil, nil, nil, &InvalidError{Problems: problems}
	}
	if strings.TrimSpace(j.Name) == "" {
		return nil, nil, nil, &InvalidError{Problems: []flows.Problem{{Field: "name", Message: "a journey needs a name"}}}
	}
	canonical, err := flows.Marshal(j)
	if err != nil {
		return nil, nil, nil, err
	}
	return j, canonical, problems, nil
}

// Create stores doc as a new journey's draft.
func (s *Service) Create(ctx context.Context, workspaceID string, doc []byte, by string, opts SaveOptions) (store.Journey, []flows.Problem, error) {
	j, canonical, problems, err := s.prepare(ctx, workspaceID, doc, opts)
	if err != nil {
		return store.Journey{}, nil, err
	}
	out, err := s.store.CreateJourney(ctx, store.Journey{WorkspaceID: workspaceID, Name: j.Name, Draft: canonical, CreatedBy: by})
	return out, problems, err
}

// SaveDraft replaces a journey's draft. expectRevision 0 means "whatever is
// current" (last write wins); otherwise a stale revision is store.ErrConflict.
func (s *Service) SaveDraft(ctx context.Context, workspaceID, id string, expectRevision int, doc []byte, by string, opts SaveOptions) (store.Journey, []flows.Problem, error) {
	cur, err := s.store.GetJourney(ctx, workspaceID, id)
	if err != nil {
		return store.Journey{}, nil, err
	}
	if cur.Status == store.JourneyArchived {
		return store.Journey{}, nil, fmt.Errorf("journey %s is archived: %w", id, store.ErrConflict)
	}
	j, canonical, problems, err := s.prepare(ctx, workspaceID, doc, opts)
	if err != nil {
		return store.Journey{}, nil, err
	}
	if expectRevision == 0 {
		expectRevision = cur.DraftRevision
	}
	out, err := s.store.UpdateDraft(ctx, workspaceID, id, expectRevision, j.Name, canonical, by)
	return out, problems, err
}

// Document returns a journey's draft (version 0) or a published version, parsed.
func (s *Service) Document(ctx context.Context, workspaceID, id string, version int) (*flows.Journey, error) {
	var raw []byte
	if version == 0 {
		cur, err := s.store.GetJourney(ctx, workspaceID, id)
		if err != nil {
			return nil, err
		}
		raw = cur.Draft
	} else {
		v, err := s.store.GetJourneyVersion(ctx, workspaceID, id, version)
		if err != nil {
			return nil, err
		}
		raw = v.Document
	}
	j, err := flows.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("stored journey %s does not parse: %w", id, err)
	}
	return j, nil
}

// NodeKinds returns the kind of each of ids that is a node of a version
// older than version, as the newest such version has it: the kind of a node
// a run went through on an earlier version (a migration or a rollback
// brought the run to this one). Ids found in no older version are left out.
func (s *Service) NodeKinds(ctx context.Context, workspaceID, id string, version int, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	for v := version - 1; v >= 1 && len(out) < len(ids); v-- {
		doc, err := s.Document(ctx, workspaceID, id, v)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading version %d: %w", v, err)
		}
		for _, n := range doc.Nodes {
			if _, done := out[n.ID]; !done && slices.Contains(ids, n.ID) {
				out[n.ID] = n.Kind
			}
		}
	}
	return out, nil
}

// Export returns the canonical document of the draft (version 0) or of a
// version: importing it and exporting again gives the same bytes.
func (s *Service) Export(ctx context.Context, workspaceID, id string, version int) ([]byte, error) {
	j, err := s.Document(ctx, workspaceID, id, version)
	if err != nil {
		return nil, err
	}
	return flows.Marshal(j)
}

// IsInvalid reports whether err is a parse or validation failure (user input).
func IsInvalid(err error) ([]flows.Problem, bool) {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Problems, true
	}
	var pe *flows.ParseError
	if errors.As(err, &pe) {
		return pe.Problems, true
	}
	return nil, false
}
