package meta

import "github.com/waymarkhq/waymark/connectors"

// SetBatch lowers the batch size for tests.
func SetBatch(c connectors.Instance, n int) { c.(*Connector).batch = n }
