package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"
)

// Connector is a configured channel account of a workspace. Secret fields
// live in Secrets, sealed (the store never sees them in plain text);
// Config holds the other fields.
type Connector struct {
	ID          string
	WorkspaceID string
	Name        string
	Type        string
	Config      map[string]any
	Secrets     map[string]SealedSecret
	Enabled     bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// SealedSecret is one encrypted field value and the id of the key that
// sealed it.
type SealedSecret struct {
	KeyID      string `json:"key_id"`
	Ciphertext string `json:"ciphertext"`
}

type connectorRow struct {
	ID          string
	WorkspaceID string
	Name        string
	Type        string
	Config      string
	Secrets     string
	Enabled     bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (connectorRow) TableName() string { return "connectors" }

func (r connectorRow) domain() (Connector, error) {
	c := Connector{ID: r.ID, WorkspaceID: r.WorkspaceID, Name: r.Name, Type: r.Type, Enabled: r.Enabled,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Config: map[string]any{}, Secrets: map[string]SealedSecret{}}
	if err := json.Unmarshal([]byte(r.Config), &c.Config); err != nil {
		return Connector{}, fmt.Errorf("decoding config of connector %s: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Secrets), &c.Secrets); err != nil {
		return Connector{}, fmt.Errorf("decoding secrets of connector %s: %w", r.ID, err)
	}
	if c.Config == nil {
		c.Config = map[string]any{}
	}
	if c.Secrets == nil {
		c.Secrets = map[string]SealedSecret{}
	}
	return c, nil
}

func encodeConnector(c Connector) (config, secrets string, err error) {
	if c.Config == nil {
		c.Config = map[string]any{}
	}
	if c.Secrets == nil {
		c.Secrets = map[string]SealedSecret{}
	}
	cb, err := json.Marshal(c.Config)
	if err != nil {
		return "", "", fmt.Errorf("encoding connector config: %w", err)
	}
	sb, err := json.Marshal(c.Secrets)
	if err != nil {
		return "", "", fmt.Errorf("encoding connector secrets: %w", err)
	}
	return string(cb), string(sb), nil
}

// CreateConnector inserts a connector; a name already used in the
// workspace is ErrConflict.
func (s *Store) CreateConnector(ctx context.Context, c Connector) (Connector, error) {
	cfg, sec, err := encodeConnector(c)
	if err != nil {
		return Connector{}, err
	}
	now := s.nowUTC()
	if c.ID == "" {
		c.ID = NewID()
	}
	row := connectorRow{ID: c.ID, WorkspaceID: c.WorkspaceID, Name: c.Name, Type: c.Type, Config: cfg, Secrets: sec,
		Enabled: c.Enabled, CreatedAt: now, UpdatedAt: now}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return Connector{}, dbErr(err, fmt.Sprintf("creating connector %q", c.Name))
	}
	return row.domain()
}

// GetConnector returns a workspace's connector by id.
func (s *Store) GetConnector(ctx context.Context, workspaceID, id string) (Connector, error) {
	var row connectorRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&row).Error; err != nil {
		return Connector{}, dbErr(err, "loading connector "+id)
	}
	return row.domain()
}

// GetConnectorByID returns a connector of any workspace (provider
// callbacks name the connector only).
func (s *Store) GetConnectorByID(ctx context.Context, id string) (Connector, error) {
	var row connectorRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Connector{}, dbErr(err, "loading connector "+id)
	}
	return row.domain()
}

// GetConnectorByName returns a workspace's connector by its unique name.
func (s *Store) GetConnectorByName(ctx context.Context, workspaceID, name string) (Connector, error) {
	var row connectorRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND name = ?", workspaceID, name).Take(&row).Error; err != nil {
		return Connector{}, dbErr(err, fmt.Sprintf("loading connector %q", name))
	}
	return row.domain()
}

// ListConnectors returns a workspace's connectors ordered by name.
func (s *Store) ListConnectors(ctx context.Context, workspaceID string) ([]Connector, error) {
	var rows []connectorRow
	if err := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID).Order("name").Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing connectors")
	}
	return connectorsOf(rows)
}

// ListAllConnectors returns every connector of every workspace (key
// checks and rotation).
func (s *Store) ListAllConnectors(ctx context.Context) ([]Connector, error) {
	var rows []connectorRow
	if err := s.db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, dbErr(err, "listing connectors")
	}
	return connectorsOf(rows)
}

func connectorsOf(rows []connectorRow) ([]Connector, error) {
	out := make([]Connector, len(rows))
	for i, r := range rows {
		c, err := r.domain()
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// UpdateConnector replaces a connector's name, config, secrets and enabled
// flag. A name taken by another connector is ErrConflict.
func (s *Store) UpdateConnector(ctx context.Context, c Connector) (Connector, error) {
	cfg, sec, err := encodeConnector(c)
	if err != nil {
		return Connector{}, err
	}
	res := s.db.WithContext(ctx).Model(&connectorRow{}).Where("workspace_id = ? AND id = ?", c.WorkspaceID, c.ID).
		Updates(map[string]any{"name": c.Name, "config": cfg, "secrets": sec, "enabled": c.Enabled, "updated_at": s.nowUTC()})
	if res.Error != nil {
		return Connector{}, dbErr(res.Error, fmt.Sprintf("updating connector %q", c.Name))
	}
	if res.RowsAffected == 0 {
		return Connector{}, dbErr(gorm.ErrRecordNotFound, "updating connector "+c.ID)
	}
	return s.GetConnector(ctx, c.WorkspaceID, c.ID)
}

// ReplaceConnectorSecrets swaps a connector's sealed secrets if they are
// still old (compare-and-swap, for key rotation running beside edits).
// A changed row is ErrConflict.
func (s *Store) ReplaceConnectorSecrets(ctx context.Context, id string, old, updated map[string]SealedSecret) error {
	ob, err := json.Marshal(old)
	if err != nil {
		return err
	}
	nb, err := json.Marshal(updated)
	if err != nil {
		return err
	}
	return s.withTx(ctx, func(tx *gorm.DB) error {
		var row connectorRow
		if err := tx.Clauses(lockForUpdate(s.dialect)...).Where("id = ?", id).Take(&row).Error; err != nil {
			return dbErr(err, "loading connector "+id)
		}
		var cur map[string]SealedSecret
		if err := json.Unmarshal([]byte(row.Secrets), &cur); err != nil {
			return fmt.Errorf("decoding secrets of connector %s: %w", id, err)
		}
		cb, _ := json.Marshal(cur) // canonical form, as ob
		if string(cb) != string(ob) {
			return fmt.Errorf("connector %s changed during rotation: %w", id, ErrConflict)
		}
		return tx.Model(&connectorRow{}).Where("id = ?", id).Update("secrets", string(nb)).Error
	})
}

// SetConnectorEnabled enables or disables a connector.
func (s *Store) SetConnectorEnabled(ctx context.Context, workspaceID, id string, enabled bool) (Connector, error) {
	res := s.db.WithContext(ctx).Model(&connectorRow{}).Where("workspace_id = ? AND id = ?", workspaceID, id).
		Updates(map[string]any{"enabled": enabled, "updated_at": s.nowUTC()})
	if res.Error != nil {
		return Connector{}, dbErr(res.Error, "updating connector "+id)
	}
	if res.RowsAffected == 0 {
		return Connector{}, dbErr(gorm.ErrRecordNotFound, "updating connector "+id)
	}
	return s.GetConnector(ctx, workspaceID, id)
}

// DeleteConnector removes a connector.
func (s *Store) DeleteConnector(ctx context.Context, workspaceID, id string) error {
	res := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Delete(&connectorRow{})
	if res.Error == nil && res.RowsAffected == 0 {
		return dbErr(gorm.ErrRecordNotFound, "deleting connector "+id)
	}
	return dbErr(res.Error, "deleting connector "+id)
}

// ConnectorUse is a published journey whose live version names a connector.
type ConnectorUse struct {
	JourneyID string
	Name      string
	Status    string // live or paused
	Version   int
	NodeIDs   []string
}

// JourneysUsingConnector scans the live versions of a workspace's live and
// paused journeys for action nodes that name the connector.
func (s *Store) JourneysUsingConnector(ctx context.Context, workspaceID, name string) ([]ConnectorUse, error) {
	type useRow struct {
		ID       string
		Name     string
		Status   string
		Version  int
		Document string
	}
	var rows []useRow
	err := s.db.WithContext(ctx).Table("journeys AS j").
		Select("j.id, j.name, j.status, v.version, v.document").
		Joins("JOIN journey_versions v ON v.journey_id = j.id AND v.version = j.live_version").
		Where("j.workspace_id = ? AND j.status IN ?", workspaceID, []string{JourneyLive, JourneyPaused}).
		Order("j.name, j.id").Find(&rows).Error
	if err != nil {
		return nil, dbErr(err, "finding journeys using a connector")
	}
	var out []ConnectorUse
	for _, r := range rows {
		var doc struct {
			Nodes []struct {
				ID     string         `json:"id"`
				Config map[string]any `json:"config"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal([]byte(r.Document), &doc); err != nil {
			return nil, fmt.Errorf("decoding version %d of journey %s: %w", r.Version, r.ID, err)
		}
		var ids []string
		for _, n := range doc.Nodes {
			if c, _ := n.Config["connector"].(string); c == name {
				ids = append(ids, n.ID)
			}
		}
		if len(ids) > 0 {
			sort.Strings(ids)
			out = append(out, ConnectorUse{JourneyID: r.ID, Name: r.Name, Status: r.Status, Version: r.Version, NodeIDs: ids})
		}
	}
	return out, nil
}

// ApplyDeliveryStatus records a provider's late verdict (a status
// callback) on the workspace's delivery the provider knows as providerID
// (provider ids such as Twilio's message SIDs are unique). Only deliveries still pending, sent or unknown move; a
// verdict arriving after another is ignored (callbacks come out of
// order). It reports whether a delivery changed.
func (s *Store) ApplyDeliveryStatus(ctx context.Context, workspaceID, providerID, status, errText string) (bool, error) {
	if providerID == "" {
		return false, nil
	}
	res := s.db.WithContext(ctx).Model(&deliveryRow{}).
		Where("workspace_id = ? AND provider_id = ? AND status IN ?", workspaceID, providerID,
			[]string{DeliveryPending, DeliverySent, DeliveryUnknown}).
		Updates(map[string]any{"status": status, "error": errText, "updated_at": s.nowUTC()})
	if res.Error != nil {
		return false, dbErr(res.Error, "updating delivery status")
	}
	return res.RowsAffected > 0, nil
}

// CountPendingDeliveries counts a connector's deliveries not yet handed to
// the provider: its queue depth.
func (s *Store) CountPendingDeliveries(ctx context.Context, workspaceID, connector string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&deliveryRow{}).
		Where("workspace_id = ? AND connector = ? AND status = ?", workspaceID, connector, DeliveryPending).Count(&n).Error
	return n, dbErr(err, "counting pending deliveries")
}
