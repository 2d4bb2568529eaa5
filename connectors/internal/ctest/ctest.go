// Package ctest helps connector tests build a connector the way the
// service does: normalise the config with the type's spec, then construct
// it with a test environment (loopback allowed for httptest servers).
package ctest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/netguard"
)

// Suppressions records what a connector asked to suppress.
type Suppressions struct {
	mu   sync.Mutex
	List []connectors.Suppression
}

// All returns a copy.
func (s *Suppressions) All() []connectors.Suppression {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]connectors.Suppression(nil), s.List...)
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Env returns a test environment: loopback reachable, suppressions recorded.
func Env(t testing.TB) (connectors.Env, *Suppressions) {
	sup := &Suppressions{}
	return connectors.Env{
		Net:       netguard.MustNew(netguard.AllowLoopbackForTests()),
		PublicURL: "https://waymark.example.com",
		Logger:    slog.New(slog.NewTextHandler(logWriter{t}, nil)),
		Suppress: func(_ context.Context, channel, address, reason string) error {
			sup.mu.Lock()
			defer sup.mu.Unlock()
			sup.List = append(sup.List, connectors.Suppression{Channel: channel, Address: address, Reason: reason})
			return nil
		},
	}, sup
}

// Build normalises raw with typ's spec and constructs the connector.
func Build(t testing.TB, typ connectors.Type, env connectors.Env, raw map[string]any) connectors.Instance {
	t.Helper()
	cfg, errs := typ.Normalize(raw)
	require.Empty(t, errs)
	inst, err := typ.New(connectors.Setup{ID: "c-1", WorkspaceID: "ws", Name: "test-" + typ.Name, Config: cfg, Env: env})
	require.NoError(t, err)
	return inst
}

// Class returns the class of a connector error, failing the test if err is nil.
func Class(t testing.TB, err error) connectors.Class {
	t.Helper()
	require.Error(t, err)
	c, _, _ := connectors.Classify(err)
	return c
}
