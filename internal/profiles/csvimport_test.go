package profiles_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
)

type memStore struct{ rows []store.ProfileUpsert }

func (m *memStore) UpsertProfile(_ context.Context, u store.ProfileUpsert) (store.Profile, bool, error) {
	m.rows = append(m.rows, u)
	return store.Profile{ExternalID: u.ExternalID}, true, nil
}

func TestImportCSV(t *testing.T) {
	t.Parallel()
	csv := "id;E-mail;Score;vip;tz\nu1;A@Example.com;42;true;Europe/Paris\nu2;x;1;false;\nu3;;007;no;Mars/Base\n\"u4;1;2\n"
	rd, err := profiles.NewReader(strings.NewReader(csv))
	require.NoError(t, err)
	require.Equal(t, []string{"id", "E-mail", "Score", "vip", "tz"}, rd.Headers, "semicolons detected")
	m, err := profiles.ParseMapping("id=external_id,E-mail=email,tz=timezone", rd.Headers)
	require.NoError(t, err)
	require.Equal(t, "attributes.score", m["Score"])
	require.NoError(t, rd.SetMapping(m))
	ms := &memStore{}
	res, err := (&profiles.Importer{Store: ms}).Run(context.Background(), "ws", rd, false)
	require.NoError(t, err)
	require.EqualValues(t, 4, res.Rows)
	require.EqualValues(t, 1, res.Imported)
	require.Len(t, ms.rows, 1)
	require.Equal(t, "a@example.com", *ms.rows[0].Email)
	require.Equal(t, map[string]any{"score": 42.0, "vip": true}, ms.rows[0].Attributes)
	require.Equal(t, []store.ImportError{
		{Line: 3, Column: "E-mail", Reason: `"x" is not a valid email address`},
		{Line: 4, Column: "tz", Reason: `"Mars/Base" is not an IANA time zone (like Europe/Paris)`},
		{Line: 5, Reason: "malformed CSV: extraneous or missing \" in quoted-field"},
	}, res.Errors)

	ms = &memStore{}
	rd, _ = profiles.NewReader(strings.NewReader("id,email\nu1,a@b.co\n"))
	require.NoError(t, rd.SetMapping(profiles.Mapping{"id": "external_id", "email": "email"}))
	res, err = (&profiles.Importer{Store: ms}).Run(context.Background(), "ws", rd, true)
	require.NoError(t, err)
	require.EqualValues(t, 1, res.Imported)
	require.Empty(t, ms.rows, "dry run writes nothing")
}

func TestMappingErrors(t *testing.T) {
	t.Parallel()
	h := []string{"a", "b"}
	for _, tc := range []struct{ name, spec, want string }{
		{"no external id", "", "no column maps to external_id"},
		{"unknown field", "a=external_id,b=shoe_size", `unknown field "shoe_size"`},
		{"duplicate", "a=external_id,b=external_id", "both map to external_id"},
		{"unknown column", "c=email", `no column "c"`},
		{"bad pair", "a", "want column=field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := profiles.ParseMapping(tc.spec, h)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := profiles.NewReader(strings.NewReader("a,a\n"))
	require.ErrorContains(t, err, "appears twice")
	_, err = profiles.NewReader(strings.NewReader(""))
	require.ErrorContains(t, err, "empty")
}
