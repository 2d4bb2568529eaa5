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
func (s *Service) Check(ctx context.Context, workspaceID string, doc []byte) (*flows.Journey, []flows.Problem, error) {
	j, err := flows.Parse(doc)
	if err != nil {
		return nil, nil, err
	}
	opts, err := s.options(ctx, workspaceID)
	if err != nil {
		return nil, nil, err
	}
	return j, flows.Validate(s.reg, j, opts), nil
}

func (s *Service) options(ctx context.Context, workspaceID string) (flows.ValidateOptions, error) {
	if workspaceID == "" {
		return flows.ValidateOptions{}, nil
	}
	types, err := s.store.ConnectorTypes(ctx, workspaceID)
	if err != nil {
		return flows.ValidateOptions{}, err
	}
	return flows.ValidateOptions{ConnectorServes: func(name, kind string) (bool, bool) {
		typ, ok := types[name]
		return ok, ok && s.Serves(typ, kind)
	}}, nil
}

// Serves reports whether a connector type can carry a node kind, as the
// connector registry declares it (the sandbox carries every kind).
func (s *Service) Serves(connectorType, kind string) bool {
	return connectorType == store.SandboxConnector || s.serves(connectorType, kind)
}

// SaveOptions tune Create and SaveDraft.
type SaveOptions struct {
	// AllowInvalid saves a draft that parses but has validation problems
	// (the editor saves work in progress); the problems are returned.
	AllowInvalid bool
}

// prepare parses and validates doc and returns the canonical bytes to store.
// Drafts are checked without connectors: those are checked at publish.
func (s *Service) prepare(doc []byte, opts SaveOptions) (*flows.Journey, []byte, []flows.Problem, error) {
	j, err := flows.Parse(doc)
	if err != nil {
		return nil, nil, nil, err
	}
	problems := flows.Validate(s.reg, j, flows.ValidateOptions{})
	if len(problems) > 0 && !opts.AllowInvalid {
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
	j, canonical, problems, err := s.prepare(doc, opts)
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
	j, canonical, problems, err := s.prepare(doc, opts)
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
