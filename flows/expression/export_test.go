package expression

// JSONSizeForTest exposes jsonSize to the external tests.
func JSONSizeForTest(v any, indent bool) int {
	n, err := jsonSize(v, indent, 1<<30)
	if err != nil {
		return -1
	}
	return n
}
