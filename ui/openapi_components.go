package ui

import (
	"reflect"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/learn"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
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

type eventBatchResultJSON struct {
	Events []eventResult `json:"events"`
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

// componentNames names the components of types whose Go name would read
// badly or clash; other types keep their Go name (capitalised, without a
// JSON suffix). The write form of a type not in sharedTypes gets "Input".
var componentNames = map[reflect.Type]string{
	reflect.TypeFor[httpkit.ErrorBody]():        "Error",
	reflect.TypeFor[httpkit.ErrorPayload]():     "ErrorPayload",
	reflect.TypeFor[apiKeyInfoJSON]():           "APIKeyInfo",
	reflect.TypeFor[whoamiJSON]():               "Whoami",
	reflect.TypeFor[nodeCatalogJSON]():          "NodeCatalog",
	reflect.TypeFor[nodes.Spec]():               "NodeSpec",
	reflect.TypeFor[nodes.Field]():              "SpecField",
	reflect.TypeFor[nodes.When]():               "SpecFieldCondition",
	reflect.TypeFor[nodes.Port]():               "NodePort",
	reflect.TypeFor[nodes.DynamicPorts]():       "NodeDynamicPorts",
	reflect.TypeFor[flows.Problem]():            "Problem",
	reflect.TypeFor[flows.JourneyDiff]():        "JourneyDiff",
	reflect.TypeFor[flows.Change]():             "JourneyChange",
	reflect.TypeFor[flows.NodeChange]():         "JourneyNodeChange",
	reflect.TypeFor[flows.RateLimit]():          "JourneyRateLimit",
	reflect.TypeFor[flows.FrequencyCap]():       "FrequencyCap",
	reflect.TypeFor[journeyJSON]():              "Journey",
	reflect.TypeFor[journeyListJSON]():          "JourneyList",
	reflect.TypeFor[versionJSON]():              "JourneyVersion",
	reflect.TypeFor[versionListJSON]():          "JourneyVersionList",
	reflect.TypeFor[diffJSON]():                 "JourneyDiffResult",
	reflect.TypeFor[publishBodyJSON]():          "Publish",
	reflect.TypeFor[journeys.NodePlan]():        "MigrationNodePlan",
	reflect.TypeFor[journeys.MigrationReport](): "MigrationReport",
	reflect.TypeFor[journeys.NodeMigration]():   "MigrationNode",
	reflect.TypeFor[journeys.NodeRef]():         "MigrationTarget",
	reflect.TypeFor[publishResultJSON]():        "PublishResult",
	reflect.TypeFor[dryRunJSON]():               "PublishDryRun",
	reflect.TypeFor[hooks.Hook]():               "Hook",
	reflect.TypeFor[hookSchemeJSON]():           "HookScheme",
	reflect.TypeFor[store.TriggerRun]():         "TriggerRun",
	reflect.TypeFor[triggerRunsJSON]():          "TriggerRunList",
	reflect.TypeFor[statsJSON]():                "JourneyStats",
	reflect.TypeFor[nodeStatsJSON]():            "NodeStats",
	reflect.TypeFor[journeyStatsJSON]():         "JourneyTotals",
	reflect.TypeFor[liftJSON]():                 "Lift",
	reflect.TypeFor[splitLiftJSON]():            "SplitLift",
	reflect.TypeFor[variantLiftJSON]():          "VariantLift",
	reflect.TypeFor[learn.Lift]():               "LiftEstimate",
	reflect.TypeFor[eventJSON]():                "Event",
	reflect.TypeFor[eventBatch]():               "EventBatch",
	reflect.TypeFor[eventResult]():              "EventResult",
	reflect.TypeFor[eventBatchResultJSON]():     "EventResults",
	reflect.TypeFor[httpkit.ProfileJSON]():      "Profile",
	reflect.TypeFor[profileExportJSON]():        "ProfileExport",
	reflect.TypeFor[exportEventJSON]():          "ProfileExportEvent",
	reflect.TypeFor[exportRunJSON]():            "ProfileExportRun",
	reflect.TypeFor[exportStep]():               "ProfileExportStep",
	reflect.TypeFor[exportDeliveryJSON]():       "ProfileExportDelivery",
	reflect.TypeFor[erasureJSON]():              "Erasure",
	reflect.TypeFor[runJSON]():                  "Run",
	reflect.TypeFor[stepJSON]():                 "RunStep",
	reflect.TypeFor[deliveryJSON]():             "RunDelivery",
	reflect.TypeFor[runListJSON]():              "RunList",
	reflect.TypeFor[runMoveJSON]():              "RunMove",
	reflect.TypeFor[connectors.Type]():          "ConnectorType",
	reflect.TypeFor[connectors.Destination]():   "ConnectorDestination",
	reflect.TypeFor[connectors.Rate]():          "ConnectorRate",
	reflect.TypeFor[connectors.TestResult]():    "ConnectorTestResult",
	reflect.TypeFor[connectorTypesJSON]():       "ConnectorTypeList",
	reflect.TypeFor[connectorJSON]():            "Connector",
	reflect.TypeFor[backlogJSON]():              "ConnectorBacklog",
	reflect.TypeFor[connectorListJSON]():        "ConnectorList",
	reflect.TypeFor[connectorPatchJSON]():       "ConnectorPatch",
	reflect.TypeFor[connectorTestJSON]():        "ConnectorTest",
	reflect.TypeFor[messageJSON]():              "SandboxMessage",
	reflect.TypeFor[messageListJSON]():          "SandboxMessageList",
	reflect.TypeFor[suppressionJSON]():          "Suppression",
	reflect.TypeFor[suppressionListJSON]():      "SuppressionList",
	reflect.TypeFor[suppressionAddJSON]():       "Suppression",
	reflect.TypeFor[simulateBody]():             "Simulation",
	reflect.TypeFor[sim.ProfileInput]():         "SimulationProfile",
	reflect.TypeFor[sim.CohortSpec]():           "SimulationCohort",
	reflect.TypeFor[sim.AttributeSpec]():        "SimulationAttribute",
	reflect.TypeFor[sim.Entry]():                "SimulationEntry",
	reflect.TypeFor[sim.ScriptedEvent]():        "SimulationEvent",
	reflect.TypeFor[sim.Result]():               "SimulationResult",
	reflect.TypeFor[sim.PathCount]():            "SimulationPath",
	reflect.TypeFor[sim.NodeCount]():            "SimulationNode",
	reflect.TypeFor[sim.ProfileTimeline]():      "SimulationTimeline",
	reflect.TypeFor[sim.RunResult]():            "SimulationRun",
	reflect.TypeFor[sim.Step]():                 "SimulationStep",
	reflect.TypeFor[sim.Message]():              "SimulationMessage",
	reflect.TypeFor[testSendRequest]():          "TestSend",
	reflect.TypeFor[testSendJSON]():             "TestSend",
	reflect.TypeFor[testSendResultJSON]():       "TestSendResult",
	reflect.TypeFor[testSendListJSON]():         "TestSendList",
}

// sharedTypes have one schema both ways: the journey document's parts,
// which requests send and responses return as they are.
var sharedTypes = map[reflect.Type]bool{
	reflect.TypeFor[flows.Settings]():     true,
	reflect.TypeFor[flows.EntryLimit]():   true,
	reflect.TypeFor[flows.EntryWindow]():  true,
	reflect.TypeFor[flows.ExitCriteria](): true,
	reflect.TypeFor[flows.Goal]():         true,
	reflect.TypeFor[flows.QuietHours]():   true,
	reflect.TypeFor[flows.FrequencyCap](): true,
	reflect.TypeFor[flows.RateLimit]():    true,
	reflect.TypeFor[flows.Position]():     true,
	reflect.TypeFor[flows.Edge]():         true,
}

// typeSchemas stand for Go types that are not reflected: a journey
// document is described from the node specs (openapi_journey.go).
var typeSchemas = map[reflect.Type]map[string]any{
	reflect.TypeFor[flows.Journey](): ref("JourneyDraft"),
}

// writeRequired lists, per type, the fields a request must give.
var writeRequired = map[reflect.Type][]string{
	reflect.TypeFor[eventJSON]():          {"name", "profile_id"},
	reflect.TypeFor[eventBatch]():         {"events"},
	reflect.TypeFor[hookSchemeJSON]():     {"scheme"},
	reflect.TypeFor[runMoveJSON]():        {"node_id"},
	reflect.TypeFor[suppressionAddJSON](): {"channel", "address"},
	reflect.TypeFor[testSendRequest]():    {"node"},
	reflect.TypeFor[journeys.NodePlan]():  {"action"},
	reflect.TypeFor[sim.ProfileInput]():   {"external_id"},
	reflect.TypeFor[sim.ScriptedEvent]():  {"name", "after"},
	reflect.TypeFor[sim.CohortSpec]():     {"size"},
	reflect.TypeFor[flows.QuietHours]():   {"start", "end"},
	reflect.TypeFor[flows.Goal]():         {"event"},
	reflect.TypeFor[flows.FrequencyCap](): {"count", "period"},
	reflect.TypeFor[flows.Edge]():         {"from", "to"},
}

var (
	journeyStatusEnum = []string{store.JourneyDraft, store.JourneyLive, store.JourneyPaused, store.JourneyArchived}
	runStatusEnum     = []string{store.RunActive, store.RunWaiting, store.RunWaitingEvent, store.RunPaused, store.RunCompleted, store.RunExited, store.RunFailed}
	deliveryStatuses  = []string{store.DeliveryPending, store.DeliverySent, store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryUnknown,
		store.DeliverySuppressed, store.DeliverySkipped}
	suppressionReasons = []string{store.ReasonManual, store.ReasonUnsubscribed, store.ReasonHardBounce, store.ReasonStop, store.ReasonComplaint}
	channelEnum        = []string{store.SuppressEmail, store.SuppressSMS}
)

func enum(values []string, words string) map[string]any {
	return describe(map[string]any{"type": "string", "enum": values}, words)
}

func words(s string) map[string]any { return map[string]any{"description": s} }

// fieldSchemas refine generated properties (enums, formats, words), per
// type and JSON field name. A schema with "$ref", "oneOf" or "anyOf"
// replaces the generated one; any other is merged into it.
var fieldSchemas = map[reflect.Type]map[string]map[string]any{
	reflect.TypeFor[journeyJSON](): {
		"status":         enum(journeyStatusEnum, ""),
		"draft_revision": words("The draft's revision: send it back as If-Match to save only over this draft."),
		"live_version":   words("The version runs enter; null before the first publish."),
		"problems":       words("What keeps the draft from being published (a save with allow_invalid=true)."),
	},
	reflect.TypeFor[versionJSON](): {
		"document": ref("JourneyDocument"),
	},
	reflect.TypeFor[runJSON](): {
		"status":               enum(runStatusEnum, ""),
		"profile_id":           words("The profile's external id."),
		"entry":                words("The event the run entered with (needs profiles:read)."),
		"personal_data_hidden": words("The key lacks profiles:read: recipients, subjects, the entry event and update_profile values are left out."),
	},
	reflect.TypeFor[deliveryJSON](): {
		"status":    enum(deliveryStatuses, ""),
		"recipient": words("With profiles:read only."),
		"subject":   words("With profiles:read only."),
	},
	reflect.TypeFor[messageJSON](): {
		"status": enum(deliveryStatuses, ""),
	},
	reflect.TypeFor[httpkit.ProfileJSON](): {
		"external_id": map[string]any{"minLength": 1, "maxLength": 256, "description": "Your id for the profile."},
		"phone":       words("E.164, e.g. +33612345678."),
		"timezone":    words("IANA time zone, e.g. Europe/Paris."),
		"attributes":  words("Merged key by key into the stored attributes."),
		"consent":     words("Per channel: true (granted), false (denied), a status string (granted, denied, revoked, unsubscribed, opted_out) or {\"status\": …} (docs/triggers.md#consent)."),
		"created_at":  map[string]any{"readOnly": true},
		"updated_at":  map[string]any{"readOnly": true},
	},
	reflect.TypeFor[eventJSON](): {
		"name":       map[string]any{"pattern": `^[A-Za-z0-9][A-Za-z0-9_.:\-/ ]{0,127}$`},
		"profile_id": map[string]any{"minLength": 1, "maxLength": 256, "description": "The profile's external id; the profile is created when new."},
		"profile":    words("Also update the profile (needs profiles:write)."),
	},
	reflect.TypeFor[eventBatch](): {
		"events": map[string]any{"minItems": 1, "maxItems": MaxEventBatch},
	},
	reflect.TypeFor[hookSchemeJSON](): {
		"scheme": enum([]string{"standard", "github"}, "How senders sign: standard (Standard Webhooks) or github (X-Hub-Signature-256)."),
	},
	reflect.TypeFor[suppressionAddJSON](): {
		"channel": enum(channelEnum, ""),
		"reason":  enum(suppressionReasons, "Default manual."),
	},
	reflect.TypeFor[suppressionJSON](): {
		"channel": enum(channelEnum, ""),
	},
	reflect.TypeFor[journeys.MigrationReport](): {
		"nodes": map[string]any{"type": "array", "items": ref("MigrationNode"), "description": "Empty on a first publish: no live version."},
	},
	reflect.TypeFor[journeys.NodePlan](): {
		"action": enum([]string{journeys.PlanStay, journeys.PlanMove, journeys.PlanExit}, ""),
		"to":     words("With move: the node of the new version the runs move to."),
	},
	reflect.TypeFor[publishBodyJSON](): {
		"plan": words("Live node id → what happens to the runs waiting there; nodes left out stay."),
	},
	reflect.TypeFor[testSendRequest](): {
		"version":             map[string]any{"minimum": 0, "description": "0: the draft."},
		"to":                  words("Email address (send_email) or E.164 phone (send_sms); unused for send_webhook."),
		"profile_external_id": words("Render with this profile's data (needs profiles:read); default: a sample profile."),
	},
	reflect.TypeFor[simulateBody](): {
		"version":  map[string]any{"minimum": 0, "description": "A published version; default: the draft."},
		"document": map[string]any{"$ref": "#/components/schemas/JourneyDraft"},
		"horizon":  words("How long the virtual clock may run, e.g. 30d (default and most: 400d)."),
	},
	reflect.TypeFor[flows.Settings](): {
		"reentry": words("never (default), after_exit or always."),
	},
	reflect.TypeFor[flows.FrequencyCap](): {
		"period": words("day or week."),
	},
	reflect.TypeFor[connectorPatchJSON](): {
		"config": words("Keys given replace the stored ones (null removes one); secret fields left out keep their value."),
	},
}
