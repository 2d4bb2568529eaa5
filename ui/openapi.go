package ui

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/ui/api"
	"github.com/waymarkhq/waymark/ui/ingest"
	"github.com/waymarkhq/waymark/ui/internal/openapi"
)

// openapiJSON: GET /api/v1/openapi.json (public): the document of the
// routes registered, their permission entries and the node and connector
// registries.
func (s *Server) openapiJSON(c *fiber.Ctx) error {
	var routes []openapi.Route
	for _, rt := range s.app.GetRoutes(true) {
		routes = append(routes, openapi.Route{Method: rt.Method, Path: rt.Path})
	}
	var types []connectors.Type
	if s.connectors != nil {
		types = s.connectors.Registry().Types()
	}
	doc := openapi.Document(openapi.Input{
		Parts:  []openapi.Part{api.OpenAPI(), api.BroadcastOpenAPI(), ingest.OpenAPI()},
		Routes: routes,
		Access: func(method, path string) (bool, string) {
			a, _ := RoutePermission(method, path)
			return a.Kind == AccessAPI, a.Need
		},
		Specs:          s.journeys.Registry().Specs(),
		ConnectorTypes: types,
	})
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(doc)
}
