package flows_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/waymarkhq/waymark/flows"
)

func FuzzParseValidate(f *testing.F) {
	b := setup(f)
	for _, glob := range []string{"testdata/*.json", "testdata/invalid/*.json"} {
		files, _ := filepath.Glob(glob)
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := flows.Parse(data)
		if err != nil {
			return
		}
		problems := flows.Validate(b.reg, j, flows.ValidateOptions{})
		c, cproblems := flows.Compile(b.reg, j, flows.ValidateOptions{})
		if (len(problems) == 0) != (c != nil) || len(problems) != len(cproblems) {
			t.Fatalf("Validate and Compile disagree: %v vs %v", problems, cproblems)
		}
		out, err := flows.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		j2, err := flows.Parse(out)
		if err != nil {
			t.Fatalf("re-parsing the export failed: %v", err)
		}
		out2, err := flows.Marshal(j2)
		if err != nil || string(out) != string(out2) {
			t.Fatalf("export is not stable")
		}
		_ = flows.Diff(j, j2)
	})
}
