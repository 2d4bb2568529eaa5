package store

import (
	"context"
)

// SandboxConnector is the test-inbox connector every workspace has.
const SandboxConnector = "sandbox"

type connectorNameRow struct {
	Name string
	Type string
}

// ConnectorTypes maps each enabled connector's name to its type for a
// workspace, including the built-in sandbox. Journeys name connectors; this
// is what publishing checks them against.
func (s *Store) ConnectorTypes(ctx context.Context, workspaceID string) (map[string]string, error) {
	var rows []connectorNameRow
	err := s.db.WithContext(ctx).Table("connectors").Select("name, type").
		Where("workspace_id = ? AND enabled = ?", workspaceID, true).Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "listing connectors")
	}
	out := map[string]string{SandboxConnector: SandboxConnector}
	for _, r := range rows {
		out[r.Name] = r.Type
	}
	return out, nil
}
