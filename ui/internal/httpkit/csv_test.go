package httpkit

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCSVSafe: formulas are defused; plain negative numbers are left as
// the numbers they are (security review F12: -5 came out as '-5).
func TestCSVSafe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"text", "bob", "bob"},
		{"positive number", "5", "5"},
		{"negative integer", "-5", "-5"},
		{"negative decimal", "-2.5", "-2.5"},
		{"negative fraction without a zero", "-.5", "-.5"},
		{"negative with a trailing dot", "-5.", "-5."},
		{"negative exponent form", "-1e-3", "-1e-3"},
		{"negative exponent with a plus", "-1.5E+06", "-1.5E+06"},
		{"arithmetic after a minus", "-2+3", "'-2+3"},
		{"minus and a call", "-SUM(A1:A9)", "'-SUM(A1:A9)"},
		{"DDE after a minus", "-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"},
		{"minus alone", "-", "'-"},
		{"minus minus", "--5", "'--5"},
		{"minus and a space", "- 5", "'- 5"},
		{"negative then a newline", "-5\n=1+1", "'-5\n=1+1"},
		{"negative percent", "-5%", "'-5%"},
		{"equals", "=1+1", "'=1+1"},
		{"hyperlink", `=HYPERLINK("http://x","y")`, `'=HYPERLINK("http://x","y")`},
		{"plus formula", "+1+1", "'+1+1"},
		{"plus number stays quoted (E.164 phone)", "+14155550123", "'+14155550123"},
		{"at", "@SUM(1+1)", "'@SUM(1+1)"},
		{"tab", "\t=1+1", "'\t=1+1"},
		{"carriage return", "\r=1+1", "'\r=1+1"},
		{"formula later in the cell", "a=1+1", "a=1+1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, CSVSafe(tt.in))
		})
	}
}
