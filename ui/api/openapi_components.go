package api

import (
	"reflect"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/internal/openapi"
)

// The bodies of the OpenAPI document that handlers build as fiber.Map or
// decode into anonymous structs, as named types (the replay test checks
// them against the real responses, so they cannot drift unseen).

type apiKeyInfoJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Prefix      string   `json:"prefix"`
	Scopes      []string `json:"scopes"`
	WorkspaceID string   `json:"workspace_id"`
}

type whoamiJSON struct {
	APIKey apiKeyInfoJSON `json:"api_key"`
}

type nodeCatalogJSON struct {
	Nodes []nodes.Spec `json:"nodes"`
}

type validationJSON struct {
	Valid    bool            `json:"valid"`
	Problems []flows.Problem `json:"problems"`
}

type journeyListJSON struct {
	Journeys []journeyJSON `json:"journeys"`
	Next     string        `json:"next"`
}

type versionListJSON struct {
	Versions []versionJSON `json:"versions"`
	Next     string        `json:"next"`
}

type diffJSON struct {
	From string            `json:"from"`
	To   string            `json:"to"`
	Diff flows.JourneyDiff `json:"diff"`
}

type publishBodyJSON struct {
	Plan   map[string]journeys.NodePlan `json:"plan,omitempty"`
	DryRun bool                         `json:"dry_run,omitempty"`
}

type publishResultJSON struct {
	Journey     journeyJSON              `json:"journey"`
	Version     int                      `json:"version"`
	PublishedAt time.Time                `json:"published_at"`
	Migration   journeys.MigrationReport `json:"migration"`
}

type dryRunJSON struct {
	DryRun    bool                     `json:"dry_run"`
	Migration journeys.MigrationReport `json:"migration"`
}

type hookSchemeJSON struct {
	Scheme string `json:"scheme"`
}

type triggerRunsJSON struct {
	TriggerRuns []store.TriggerRun `json:"trigger_runs"`
}

type exportEventJSON struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Properties map[string]any `json:"properties"`
	OccurredAt time.Time      `json:"occurred_at"`
	ReceivedAt time.Time      `json:"received_at"`
}

type exportRunJSON struct {
	ID          string       `json:"id"`
	JourneyID   string       `json:"journey_id"`
	Version     int          `json:"version"`
	Status      string       `json:"status"`
	CurrentNode string       `json:"current_node"`
	EnteredAt   time.Time    `json:"entered_at"`
	FinishedAt  *time.Time   `json:"finished_at"`
	Error       string       `json:"error"`
	Steps       []exportStep `json:"steps"`
}

type exportDeliveryJSON struct {
	ID        string    `json:"id"`
	RunID     string    `json:"run_id"`
	NodeID    string    `json:"node_id"`
	Channel   string    `json:"channel"`
	Connector string    `json:"connector"`
	Recipient string    `json:"recipient"`
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
	Status    string    `json:"status"`
	Error     string    `json:"error"`
	CreatedAt time.Time `json:"created_at"`
}

type profileExportJSON struct {
	Profile    httpkit.ProfileJSON  `json:"profile"`
	Consent    map[string]any       `json:"consent"`
	Events     []exportEventJSON    `json:"events"`
	Runs       []exportRunJSON      `json:"runs"`
	Deliveries []exportDeliveryJSON `json:"deliveries"`
	Truncated  bool                 `json:"truncated"`
	ExportedAt time.Time            `json:"exported_at"`
}

type erasureJSON struct {
	Erased        bool `json:"erased"`
	AlreadyErased bool `json:"already_erased"`
	RunsCancelled int  `json:"runs_cancelled"`
}

type runListJSON struct {
	Runs []runJSON `json:"runs"`
	Next string    `json:"next"`
}

type runMoveJSON struct {
	NodeID string `json:"node_id"`
}

type connectorTypesJSON struct {
	ConnectorTypes []connectors.Type `json:"connector_types"`
}

type connectorListJSON struct {
	Connectors []connectorJSON `json:"connectors"`
	Next       string          `json:"next"`
}

type connectorPatchJSON struct {
	Name    *string        `json:"name"`
	Config  map[string]any `json:"config"`
	Enabled *bool          `json:"enabled"`
}

type connectorTestJSON struct {
	To string `json:"to"`
}

type messageListJSON struct {
	Messages []messageJSON `json:"messages"`
	Next     string        `json:"next"`
}

type suppressionListJSON struct {
	Suppressions []suppressionJSON `json:"suppressions"`
	Next         string            `json:"next"`
}

type suppressionAddJSON struct {
	Channel string `json:"channel"`
	Address string `json:"address"`
	Reason  string `json:"reason"`
}

type testSendResultJSON struct {
	TestSend testSendJSON `json:"test_send"`
}

type testSendListJSON struct {
	TestSends []testSendJSON `json:"test_sends"`
}

// componentNames, writeRequired and fieldSchemas are this package's
// tables for the OpenAPI document (openapi.Part says what each holds).
var componentNames = map[reflect.Type]string{
	reflect.TypeFor[apiKeyInfoJSON]():         "APIKeyInfo",
	reflect.TypeFor[whoamiJSON]():             "Whoami",
	reflect.TypeFor[nodeCatalogJSON]():        "NodeCatalog",
	reflect.TypeFor[journeyJSON]():            "Journey",
	reflect.TypeFor[journeyListJSON]():        "JourneyList",
	reflect.TypeFor[versionJSON]():            "JourneyVersion",
	reflect.TypeFor[versionListJSON]():        "JourneyVersionList",
	reflect.TypeFor[diffJSON]():               "JourneyDiffResult",
	reflect.TypeFor[publishBodyJSON]():        "Publish",
	reflect.TypeFor[publishResultJSON]():      "PublishResult",
	reflect.TypeFor[dryRunJSON]():             "PublishDryRun",
	reflect.TypeFor[hookSchemeJSON]():         "HookScheme",
	reflect.TypeFor[triggerRunsJSON]():        "TriggerRunList",
	reflect.TypeFor[journeys.Stats]():         "JourneyStats",
	reflect.TypeFor[journeys.NodeStats]():     "NodeStats",
	reflect.TypeFor[journeys.JourneyTotals](): "JourneyTotals",
	reflect.TypeFor[liftJSON]():               "Lift",
	reflect.TypeFor[splitLiftJSON]():          "SplitLift",
	reflect.TypeFor[variantLiftJSON]():        "VariantLift",
	reflect.TypeFor[profileExportJSON]():      "ProfileExport",
	reflect.TypeFor[exportEventJSON]():        "ProfileExportEvent",
	reflect.TypeFor[exportRunJSON]():          "ProfileExportRun",
	reflect.TypeFor[exportStep]():             "ProfileExportStep",
	reflect.TypeFor[exportDeliveryJSON]():     "ProfileExportDelivery",
	reflect.TypeFor[erasureJSON]():            "Erasure",
	reflect.TypeFor[runJSON]():                "Run",
	reflect.TypeFor[stepJSON]():               "RunStep",
	reflect.TypeFor[deliveryJSON]():           "RunDelivery",
	reflect.TypeFor[runListJSON]():            "RunList",
	reflect.TypeFor[runMoveJSON]():            "RunMove",
	reflect.TypeFor[connectorTypesJSON]():     "ConnectorTypeList",
	reflect.TypeFor[connectorJSON]():          "Connector",
	reflect.TypeFor[backlogJSON]():            "ConnectorBacklog",
	reflect.TypeFor[connectorListJSON]():      "ConnectorList",
	reflect.TypeFor[connectorPatchJSON]():     "ConnectorPatch",
	reflect.TypeFor[connectorTestJSON]():      "ConnectorTest",
	reflect.TypeFor[messageJSON]():            "SandboxMessage",
	reflect.TypeFor[messageListJSON]():        "SandboxMessageList",
	reflect.TypeFor[suppressionJSON]():        "Suppression",
	reflect.TypeFor[suppressionListJSON]():    "SuppressionList",
	reflect.TypeFor[suppressionAddJSON]():     "Suppression",
	reflect.TypeFor[testSendRequest]():        "TestSend",
	reflect.TypeFor[testSendJSON]():           "TestSend",
	reflect.TypeFor[testSendResultJSON]():     "TestSendResult",
	reflect.TypeFor[testSendListJSON]():       "TestSendList",

	// The stats endpoint answers Stats with its message steps'
	// engagement (docs/engagement.md).
	reflect.TypeFor[journeys.StatsWithMessages](): "JourneyStats",
	reflect.TypeFor[journeys.MessageStep]():       "MessageStepStats",
}

var writeRequired = map[reflect.Type][]string{
	reflect.TypeFor[hookSchemeJSON]():     {"scheme"},
	reflect.TypeFor[runMoveJSON]():        {"node_id"},
	reflect.TypeFor[suppressionAddJSON](): {"channel", "address"},
	reflect.TypeFor[testSendRequest]():    {"node"},
}

var fieldSchemas = map[reflect.Type]map[string]map[string]any{
	reflect.TypeFor[journeyJSON](): {
		"status":         openapi.Enum(openapi.JourneyStatuses, ""),
		"draft_revision": openapi.Words("The draft's revision: send it back as If-Match to save only over this draft."),
		"live_version":   openapi.Words("The version runs enter; null before the first publish."),
		"problems":       openapi.Words("What keeps the draft from being published (a save with allow_invalid=true)."),
	},
	reflect.TypeFor[versionJSON](): {
		"document": openapi.Ref("JourneyDocument"),
	},
	reflect.TypeFor[runJSON](): {
		"status":               openapi.Enum(openapi.RunStatuses, ""),
		"profile_id":           openapi.Words("The profile's external id."),
		"entry":                openapi.Words("The event the run entered with (needs profiles:read)."),
		"personal_data_hidden": openapi.Words("The key lacks profiles:read: recipients, subjects, the entry event and update_profile values are left out."),
	},
	reflect.TypeFor[deliveryJSON](): {
		"status":    openapi.Enum(openapi.DeliveryStatuses, ""),
		"recipient": openapi.Words("With profiles:read only."),
		"subject":   openapi.Words("With profiles:read only."),
	},
	reflect.TypeFor[messageJSON](): {
		"status": openapi.Enum(openapi.DeliveryStatuses, ""),
	},
	reflect.TypeFor[hookSchemeJSON](): {
		"scheme": openapi.Enum([]string{"standard", "github"}, "How senders sign: standard (Standard Webhooks) or github (X-Hub-Signature-256)."),
	},
	reflect.TypeFor[suppressionAddJSON](): {
		"channel": openapi.Enum(openapi.Channels, ""),
		"reason":  openapi.Enum(openapi.SuppressionReasons, "Default manual."),
	},
	reflect.TypeFor[suppressionJSON](): {
		"channel": openapi.Enum(openapi.Channels, ""),
	},
	reflect.TypeFor[publishBodyJSON](): {
		"plan": openapi.Words("Live node id → what happens to the runs waiting there; nodes left out stay."),
	},
	reflect.TypeFor[testSendRequest](): {
		"version":             map[string]any{"minimum": 0, "description": "0: the draft."},
		"to":                  openapi.Words("Email address (send_email) or E.164 phone (send_sms); unused for send_webhook."),
		"profile_external_id": openapi.Words("Render with this profile's data (needs profiles:read); default: a sample profile."),
	},
	reflect.TypeFor[connectorPatchJSON](): {
		"config": openapi.Words("Keys given replace the stored ones (null removes one); secret fields left out keep their value."),
	},
}
