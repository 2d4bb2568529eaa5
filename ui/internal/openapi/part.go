package openapi

import (
	"fmt"
	"reflect"

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

// Part is what one package of the edge declares for the document: its
// operations ("METHOD /api/v1/path" with {params}) and, for the Go types
// its handlers encode and decode, component names (types whose Go name
// would read badly or clash; other types keep their Go name, capitalised,
// without a JSON suffix; the write form of a type gets "Input"), the
// fields a request must give, and refinements of generated properties
// (enums, formats, words) per type and JSON field name: a schema with
// "$ref", "oneOf" or "anyOf" replaces the generated one, any other is
// merged into it.
type Part struct {
	Ops           map[string]Op
	Names         map[reflect.Type]string
	WriteRequired map[reflect.Type][]string
	Fields        map[reflect.Type]map[string]map[string]any
}

// tables are the parts merged, with the shared types' rules.
type tables struct {
	ops           map[string]Op
	names         map[reflect.Type]string
	writeRequired map[reflect.Type][]string
	fields        map[reflect.Type]map[string]map[string]any
	sharedTypes   map[reflect.Type]bool
	typeSchemas   map[reflect.Type]map[string]any
}

func merge(parts []Part) tables {
	t := tables{ops: map[string]Op{}, names: map[reflect.Type]string{}, writeRequired: map[reflect.Type][]string{},
		fields: map[reflect.Type]map[string]map[string]any{}, sharedTypes: sharedTypes, typeSchemas: typeSchemas}
	for _, p := range parts {
		for k, v := range p.Ops {
			if _, dup := t.ops[k]; dup {
				panic(fmt.Sprintf("openapi: two parts describe %s", k))
			}
			t.ops[k] = v
		}
		for k, v := range p.Names {
			t.names[k] = v
		}
		for k, v := range p.WriteRequired {
			t.writeRequired[k] = v
		}
		for k, v := range p.Fields {
			t.fields[k] = v
		}
	}
	return t
}

// Enumerations the API's bodies and parameters use.
var (
	JourneyStatuses  = []string{store.JourneyDraft, store.JourneyLive, store.JourneyPaused, store.JourneyArchived}
	RunStatuses      = []string{store.RunActive, store.RunWaiting, store.RunWaitingEvent, store.RunPaused, store.RunCompleted, store.RunExited, store.RunFailed}
	DeliveryStatuses = []string{store.DeliveryPending, store.DeliverySent, store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryUnknown,
		store.DeliverySuppressed, store.DeliverySkipped}
	SuppressionReasons = []string{store.ReasonManual, store.ReasonUnsubscribed, store.ReasonHardBounce, store.ReasonStop, store.ReasonComplaint}
	Channels           = []string{store.SuppressEmail, store.SuppressSMS}
)

// Enum is a string schema with these values and words.
func Enum(values []string, words string) map[string]any {
	return describe(map[string]any{"type": "string", "enum": values}, words)
}

// Words is a refinement that only describes.
func Words(s string) map[string]any { return map[string]any{"description": s} }

// Base is the part of the types every package shares: the error body, the
// domain's types (nodes, flows, journeys, simulations, hooks, connectors)
// and the kit's profile.
var Base = Part{
	Names: map[reflect.Type]string{
		reflect.TypeFor[httpkit.ErrorBody]():        "Error",
		reflect.TypeFor[httpkit.ErrorPayload]():     "ErrorPayload",
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
		reflect.TypeFor[journeys.NodePlan]():        "MigrationNodePlan",
		reflect.TypeFor[journeys.MigrationReport](): "MigrationReport",
		reflect.TypeFor[journeys.NodeMigration]():   "MigrationNode",
		reflect.TypeFor[journeys.NodeRef]():         "MigrationTarget",
		reflect.TypeFor[hooks.Hook]():               "Hook",
		reflect.TypeFor[store.TriggerRun]():         "TriggerRun",
		reflect.TypeFor[learn.Lift]():               "LiftEstimate",
		reflect.TypeFor[httpkit.ProfileJSON]():      "Profile",
		reflect.TypeFor[httpkit.SimulateBody]():     "Simulation",
		reflect.TypeFor[connectors.Type]():          "ConnectorType",
		reflect.TypeFor[connectors.Destination]():   "ConnectorDestination",
		reflect.TypeFor[connectors.Rate]():          "ConnectorRate",
		reflect.TypeFor[connectors.TestResult]():    "ConnectorTestResult",
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
	},
	WriteRequired: map[reflect.Type][]string{
		reflect.TypeFor[journeys.NodePlan]():  {"action"},
		reflect.TypeFor[sim.ProfileInput]():   {"external_id"},
		reflect.TypeFor[sim.ScriptedEvent]():  {"name", "after"},
		reflect.TypeFor[sim.CohortSpec]():     {"size"},
		reflect.TypeFor[flows.QuietHours]():   {"start", "end"},
		reflect.TypeFor[flows.Goal]():         {"event"},
		reflect.TypeFor[flows.FrequencyCap](): {"count", "period"},
		reflect.TypeFor[flows.Edge]():         {"from", "to"},
	},
	Fields: map[reflect.Type]map[string]map[string]any{
		reflect.TypeFor[httpkit.ProfileJSON](): {
			"external_id": map[string]any{"minLength": 1, "maxLength": 256, "description": "Your id for the profile."},
			"phone":       Words("E.164, e.g. +33612345678."),
			"timezone":    Words("IANA time zone, e.g. Europe/Paris."),
			"attributes":  Words("Merged key by key into the stored attributes."),
			"consent":     Words("Per channel: true (granted), false (denied), a status string (granted, denied, revoked, unsubscribed, opted_out) or {\"status\": …} (docs/triggers.md#consent)."),
			"created_at":  map[string]any{"readOnly": true},
			"updated_at":  map[string]any{"readOnly": true},
		},
		reflect.TypeFor[journeys.MigrationReport](): {
			"nodes": map[string]any{"type": "array", "items": Ref("MigrationNode"), "description": "Empty on a first publish: no live version."},
		},
		reflect.TypeFor[journeys.NodePlan](): {
			"action": Enum([]string{journeys.PlanStay, journeys.PlanMove, journeys.PlanExit}, ""),
			"to":     Words("With move: the node of the new version the runs move to."),
		},
		reflect.TypeFor[httpkit.SimulateBody](): {
			"version":  map[string]any{"minimum": 0, "description": "A published version; default: the draft."},
			"document": map[string]any{"$ref": "#/components/schemas/JourneyDraft"},
			"horizon":  Words("How long the virtual clock may run, e.g. 30d (default and most: 400d)."),
		},
		reflect.TypeFor[flows.Settings](): {
			"reentry": Words("never (default), after_exit or always."),
		},
		reflect.TypeFor[flows.FrequencyCap](): {
			"period": Words("day or week."),
		},
	},
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
// document is described from the node specs (journey.go).
var typeSchemas = map[reflect.Type]map[string]any{
	reflect.TypeFor[flows.Journey](): Ref("JourneyDraft"),
}
