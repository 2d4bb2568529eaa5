package ingest

import (
	"reflect"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/internal/openapi"
)

// eventBatchResultJSON is the answer to POST /api/v1/events.
type eventBatchResultJSON struct {
	Events []eventResult `json:"events"`
}

// OpenAPI describes the ingestion operations of /api/v1.
func OpenAPI() openapi.Part {
	return openapi.Part{
		Ops: map[string]openapi.Op{
			"POST /api/v1/events": {Summary: "One event, or {\"events\": […]} (at most 1,000); every event is validated before any is stored", Tag: "ingestion",
				Body:   openapi.OneOf(eventJSON{}, eventBatch{}),
				Status: 202, Result: eventBatchResultJSON{}, Errors: []int{409, 422},
				Params: []openapi.Param{{Name: "Idempotency-Key", In: "header", Schema: map[string]any{"type": "string", "maxLength": 255},
					Description: "Replays the first response for 24 h; the same key with another body is 422, while the first is running 409."}},
				Headers: map[string]openapi.Header{"Idempotent-Replayed": {Description: "true: this is the first response to this Idempotency-Key, replayed."}}},
			"POST /api/v1/profiles": {Summary: "Upsert a profile by external_id: 201 when created, 200 when updated", Tag: "ingestion",
				Body:   openapi.WithRequired(httpkit.ProfileJSON{}, "external_id"),
				Result: httpkit.ProfileJSON{}, Status: 201, Also: map[int]string{200: "Updated"}, Errors: []int{422}},
		},
		Names: map[reflect.Type]string{
			reflect.TypeFor[eventJSON]():            "Event",
			reflect.TypeFor[eventBatch]():           "EventBatch",
			reflect.TypeFor[eventResult]():          "EventResult",
			reflect.TypeFor[eventBatchResultJSON](): "EventResults",
		},
		WriteRequired: map[reflect.Type][]string{
			reflect.TypeFor[eventJSON]():  {"name", "profile_id"},
			reflect.TypeFor[eventBatch](): {"events"},
		},
		Fields: map[reflect.Type]map[string]map[string]any{
			reflect.TypeFor[eventJSON](): {
				"name":       map[string]any{"pattern": `^[A-Za-z0-9][A-Za-z0-9_.:\-/ ]{0,127}$`},
				"profile_id": map[string]any{"minLength": 1, "maxLength": 256, "description": "The profile's external id; the profile is created when new."},
				"profile":    openapi.Words("Also update the profile (needs profiles:write)."),
			},
			reflect.TypeFor[eventBatch](): {
				"events": map[string]any{"minItems": 1, "maxItems": MaxEventBatch},
			},
		},
	}
}
