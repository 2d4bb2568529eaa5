package google

import "github.com/waymarkhq/waymark/connectors"

// SetMaxIdentifiers lowers the per-request identifier limit for tests.
func SetMaxIdentifiers(c connectors.Instance, n int) { c.(*Connector).maxIDs = n }
