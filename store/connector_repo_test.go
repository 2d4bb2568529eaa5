package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestConnectors(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		secret := map[string]store.SealedSecret{"password": {KeyID: "k1", Ciphertext: "c2VhbGVk"}}
		c, err := b.store.CreateConnector(b.ctx, store.Connector{
			WorkspaceID: b.ws, Name: "mail", Type: "smtp", Enabled: true,
			Config:  map[string]any{"host": "smtp.example.com", "port": 587.0},
			Secrets: secret,
		})
		require.NoError(t, err)
		require.NotEmpty(t, c.ID)
		require.Equal(t, secret, c.Secrets)
		require.Equal(t, "smtp.example.com", c.Config["host"])

		_, err = b.store.CreateConnector(b.ctx, store.Connector{WorkspaceID: b.ws, Name: "mail", Type: "twilio"})
		require.ErrorIs(t, err, store.ErrConflict, "names are unique in a workspace")
		_, err = b.store.EnsureWorkspace(b.ctx, "other", "Other")
		require.NoError(t, err)
		oc, err := b.store.CreateConnector(b.ctx, store.Connector{WorkspaceID: "other", Name: "mail", Type: "smtp"})
		require.NoError(t, err, "but not across workspaces")

		got, err := b.store.GetConnector(b.ctx, b.ws, c.ID)
		require.NoError(t, err)
		require.Equal(t, c.Name, got.Name)
		_, err = b.store.GetConnector(b.ctx, "other", c.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		byName, err := b.store.GetConnectorByName(b.ctx, b.ws, "mail")
		require.NoError(t, err)
		require.Equal(t, c.ID, byName.ID)
		_, err = b.store.GetConnectorByName(b.ctx, b.ws, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		anyWS, err := b.store.GetConnectorByID(b.ctx, oc.ID)
		require.NoError(t, err)
		require.Equal(t, "other", anyWS.WorkspaceID)

		sms, err := b.store.CreateConnector(b.ctx, store.Connector{WorkspaceID: b.ws, Name: "alpha-sms", Type: "twilio"})
		require.NoError(t, err)
		list, err := b.store.ListConnectors(b.ctx, b.ws)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "alpha-sms", list[0].Name, "ordered by name")
		require.False(t, list[0].Enabled)
		require.NotNil(t, list[0].Config)
		require.NotNil(t, list[0].Secrets)
		all, err := b.store.ListAllConnectors(b.ctx)
		require.NoError(t, err)
		require.Len(t, all, 3)

		types, err := b.store.ConnectorTypes(b.ctx, b.ws)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"sandbox": "sandbox", "mail": "smtp"}, types, "only enabled connectors")

		b.clock.Add(time.Minute)
		c.Name, c.Config = "mail-2", map[string]any{"host": "smtp2.example.com"}
		up, err := b.store.UpdateConnector(b.ctx, c)
		require.NoError(t, err)
		require.Equal(t, "mail-2", up.Name)
		require.Equal(t, map[string]any{"host": "smtp2.example.com"}, up.Config)
		require.True(t, up.UpdatedAt.After(up.CreatedAt))
		c.Name = "alpha-sms"
		_, err = b.store.UpdateConnector(b.ctx, c)
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = b.store.UpdateConnector(b.ctx, store.Connector{WorkspaceID: b.ws, ID: "nope", Name: "x"})
		require.ErrorIs(t, err, store.ErrNotFound)

		dis, err := b.store.SetConnectorEnabled(b.ctx, b.ws, sms.ID, true)
		require.NoError(t, err)
		require.True(t, dis.Enabled)
		_, err = b.store.SetConnectorEnabled(b.ctx, "other", sms.ID, false)
		require.ErrorIs(t, err, store.ErrNotFound)

		// Rotation swaps secrets only if nobody changed them meanwhile.
		rotated := map[string]store.SealedSecret{"password": {KeyID: "k2", Ciphertext: "bmV3"}}
		require.ErrorIs(t, b.store.ReplaceConnectorSecrets(b.ctx, c.ID, map[string]store.SealedSecret{}, rotated), store.ErrConflict)
		require.NoError(t, b.store.ReplaceConnectorSecrets(b.ctx, c.ID, secret, rotated))
		got, err = b.store.GetConnector(b.ctx, b.ws, c.ID)
		require.NoError(t, err)
		require.Equal(t, rotated, got.Secrets)
		require.ErrorIs(t, b.store.ReplaceConnectorSecrets(b.ctx, "nope", secret, rotated), store.ErrNotFound)

		require.NoError(t, b.store.DeleteConnector(b.ctx, b.ws, c.ID))
		require.ErrorIs(t, b.store.DeleteConnector(b.ctx, b.ws, c.ID), store.ErrNotFound)
		require.ErrorIs(t, b.store.DeleteConnector(b.ctx, b.ws, oc.ID), store.ErrNotFound, "another workspace's")
	})
}

func TestJourneysUsingConnector(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		doc := func(conn string) json.RawMessage {
			return json.RawMessage(`{"format":1,"name":"j","nodes":[{"id":"start","kind":"trigger_event","config":{}},` +
				`{"id":"hello","kind":"send_email","config":{"connector":"` + conn + `"}},` +
				`{"id":"bye","kind":"send_email","config":{"connector":"` + conn + `"}}],"edges":[]}`)
		}
		publish := func(name, conn string) store.Journey {
			j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: name, Draft: doc(conn)})
			require.NoError(t, err)
			_, err = b.store.PublishJourney(b.ctx, b.ws, j.ID, doc(conn), "t")
			require.NoError(t, err)
			return j
		}
		live := publish("Welcome", "mail")
		paused := publish("Winback", "mail")
		_, err := b.store.SetJourneyStatus(b.ctx, b.ws, paused.ID, store.JourneyPaused, "t")
		require.NoError(t, err)
		archived := publish("Old", "mail")
		_, err = b.store.SetJourneyStatus(b.ctx, b.ws, archived.ID, store.JourneyArchived, "t")
		require.NoError(t, err)
		publish("Other", "sms")
		// A draft that names the connector does not count.
		_, err = b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "Draft", Draft: doc("mail")})
		require.NoError(t, err)
		// The live version counts, not an older one.
		moved := publish("Moved", "mail")
		_, err = b.store.PublishJourney(b.ctx, b.ws, moved.ID, doc("sms"), "t")
		require.NoError(t, err)

		uses, err := b.store.JourneysUsingConnector(b.ctx, b.ws, "mail")
		require.NoError(t, err)
		require.Len(t, uses, 2)
		require.Equal(t, store.ConnectorUse{JourneyID: live.ID, Name: "Welcome", Status: "live", Version: 1, NodeIDs: []string{"bye", "hello"}}, uses[0])
		require.Equal(t, "Winback", uses[1].Name)
		require.Equal(t, "paused", uses[1].Status)

		none, err := b.store.JourneysUsingConnector(b.ctx, b.ws, "nothing")
		require.NoError(t, err)
		require.Empty(t, none)
		_, err = b.store.EnsureWorkspace(b.ctx, "other", "Other")
		require.NoError(t, err)
		none, err = b.store.JourneysUsingConnector(b.ctx, "other", "mail")
		require.NoError(t, err)
		require.Empty(t, none)
	})
}

func TestApplyDeliveryStatus(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		d, err := b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, IdempotencyKey: "r:1", Connector: "sms", Channel: "send_sms", Status: store.DeliverySent, ProviderID: "SM1"})
		require.NoError(t, err)
		_, err = b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, IdempotencyKey: "r:2", Connector: "sms", Channel: "send_sms"})
		require.NoError(t, err)
		n, err := b.store.CountPendingDeliveries(b.ctx, b.ws, "sms")
		require.NoError(t, err)
		require.EqualValues(t, 1, n)

		changed, err := b.store.ApplyDeliveryStatus(b.ctx, b.ws, "SM1", store.DeliveryDelivered, "")
		require.NoError(t, err)
		require.True(t, changed)
		// A late "failed" after "delivered" is ignored, as are unknown ids and other workspaces.
		changed, err = b.store.ApplyDeliveryStatus(b.ctx, b.ws, "SM1", store.DeliveryFailed, "30003")
		require.NoError(t, err)
		require.False(t, changed)
		changed, err = b.store.ApplyDeliveryStatus(b.ctx, "other", "SM1", store.DeliveryFailed, "")
		require.NoError(t, err)
		require.False(t, changed)
		changed, err = b.store.ApplyDeliveryStatus(b.ctx, b.ws, "", store.DeliveryFailed, "")
		require.NoError(t, err)
		require.False(t, changed)
		got, err := b.store.GetDelivery(b.ctx, b.ws, d.ID)
		require.NoError(t, err)
		require.Equal(t, store.DeliveryDelivered, got.Status)
	})
}
