package web

import (
	"context"
	"errors"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// The Profiles page (docs/profiles.md): search by the start of an
// external id, email or phone number, filter on one attribute, page
// through with a cursor, open a profile. Profile data is personal: the
// page is for profiles:read (editors and admins; docs/security.md).

const (
	profilesPageSize = 50
	// profileSearchBudget bounds the page's queries, within the request's
	// own deadline.
	profileSearchBudget = 5 * time.Second
)

// profileOps are the attribute operators in the order the page offers
// them, by the type of value they test.
var profileOps = []views.OpGroup{
	{Label: "Text", Ops: []views.Option{{Value: store.AttrIs, Label: "is"}, {Value: store.AttrIsNot, Label: "is not"}, {Value: store.AttrContains, Label: "contains"}}},
	{Label: "Number", Ops: []views.Option{{Value: store.AttrEq, Label: "="}, {Value: store.AttrNe, Label: "≠"}, {Value: store.AttrGt, Label: ">"},
		{Value: store.AttrGte, Label: "≥"}, {Value: store.AttrLt, Label: "<"}, {Value: store.AttrLte, Label: "≤"}}},
	{Label: "Yes or no", Ops: []views.Option{{Value: store.AttrIsTrue, Label: "is true"}, {Value: store.AttrIsFalse, Label: "is false"}}},
	{Label: "Any value", Ops: []views.Option{{Value: store.AttrSet, Label: "is set"}, {Value: store.AttrNotSet, Label: "is not set"}}},
}

func opKind(op string) string {
	switch op {
	case store.AttrIs, store.AttrIsNot, store.AttrContains:
		return "text"
	case store.AttrEq, store.AttrNe, store.AttrGt, store.AttrGte, store.AttrLt, store.AttrLte:
		return "number"
	}
	return "none"
}

// profileFilter reads the page's query: q, attr, op, value, cursor,
// limit. Each problem is a field error; the page shows them by the form.
func profileFilter(c *fiber.Ctx) (store.ProfileQuery, views.ProfilesPage) {
	st := views.ProfilesPage{
		Search: strings.TrimSpace(c.Query("q")), Attribute: strings.TrimSpace(c.Query("attr")), Op: c.Query("op"),
		Value: c.Query("value"), Cursor: c.Query("cursor"), Ops: profileOps, Errors: views.FieldErrors{},
	}
	q := store.ProfileQuery{Search: st.Search, After: st.Cursor, Limit: profilesPageSize}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxProfilePage {
			st.Errors["limit"] = "limit: a number from 1 to " + strconv.Itoa(store.MaxProfilePage)
		}
		q.Limit, st.Limit = n, n
	}
	if len(st.Search) > 320 {
		st.Errors["q"] = "Search for at most 320 characters."
	}
	if len(st.Attribute) > 64 {
		st.Errors["attr"] = "Attribute names are at most 64 characters."
	}
	if len(st.Value) > store.MaxAttributeFilterValue {
		st.Errors["value"] = "Compare with at most " + strconv.Itoa(store.MaxAttributeFilterValue) + " characters."
	}
	switch {
	case st.Attribute == "" && st.Op == "":
	case st.Attribute == "":
		st.Errors["attr"] = "Name the attribute to filter on."
	case st.Op == "":
		st.Errors["op"] = "Choose how to compare the attribute."
	case !slices.ContainsFunc(profileOps, func(g views.OpGroup) bool {
		return slices.ContainsFunc(g.Ops, func(o views.Option) bool { return o.Value == st.Op })
	}):
		st.Errors["op"] = "Choose one of the comparisons offered."
	default:
		cond := store.AttributeCondition{Name: st.Attribute, Op: st.Op}
		switch opKind(st.Op) {
		case "text":
			cond.Value = st.Value
			if st.Op == store.AttrContains && st.Value == "" {
				st.Errors["value"] = "Type the text the attribute should contain."
			}
		case "number":
			f, err := strconv.ParseFloat(strings.TrimSpace(st.Value), 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				st.Errors["value"] = "Type a number, like 42 or 9.5, to compare with."
			}
			cond.Number = f
		}
		q.Attribute = &cond
	}
	return q, st
}

// profileList: GET /profiles?q=&attr=&op=&value=&cursor=&limit=
func (h *Handler) profileList(c *fiber.Ctx) error {
	ws := httpkit.Workspace(c)
	q, st := profileFilter(c)
	if len(st.Errors) > 0 {
		return h.renderStatus(c, fiber.StatusBadRequest, views.ProfilesList(h.page(c, "Profiles"), st))
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), profileSearchBudget)
	defer cancel()
	list, err := h.store.ListProfiles(ctx, ws, q)
	var qe *store.QueryError
	switch {
	case errors.Is(err, store.ErrBadCursor):
		st.Errors["cursor"] = "This page link is not valid any more; start again from the first page."
		return h.renderStatus(c, fiber.StatusBadRequest, views.ProfilesList(h.page(c, "Profiles"), st))
	case errors.As(err, &qe):
		key := map[string]string{"attribute": "attr", "op": "op"}[qe.Field]
		if key == "" {
			key = "attr"
		}
		st.Errors[key] = qe.Message + "."
		return h.renderStatus(c, fiber.StatusBadRequest, views.ProfilesList(h.page(c, "Profiles"), st))
	case errors.Is(err, context.DeadlineExceeded) && c.UserContext().Err() == nil:
		// Our budget ran out, not the request's: say so by the form.
		st.Problem = "The search took longer than " + profileSearchBudget.String() + " and was stopped. Narrow it: type more of an id, email or phone number, or filter on another attribute."
		return h.renderStatus(c, fiber.StatusServiceUnavailable, views.ProfilesList(h.page(c, "Profiles"), st))
	case err != nil:
		return err
	}
	keys := map[string]bool{}
	for i, p := range list.Profiles {
		row := views.ProfileRow{ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Updated: runTime(p.UpdatedAt), Matched: list.Matched[i]}
		if q.Attribute != nil {
			if v, ok := p.Attributes[q.Attribute.Name]; ok {
				row.Value, row.HasValue = jsonText(v), true
			}
		}
		st.Rows = append(st.Rows, row)
		for k := range p.Attributes {
			keys[k] = true
		}
	}
	st.AttributeNames = slices.Sorted(maps.Keys(keys))
	st.Partial = list.Partial
	st.ScanBudget = store.ProfileScanBudget
	if list.Next != "" {
		st.NextURL = profilesURL(st, list.Next)
	}
	if st.Cursor != "" {
		st.FirstURL = profilesURL(st, "")
	}
	return render(c, views.ProfilesList(h.page(c, "Profiles"), st))
}

// profilesURL is the page's address with its filters and a cursor.
func profilesURL(st views.ProfilesPage, cursor string) string {
	v := url.Values{}
	for k, val := range map[string]string{"q": st.Search, "attr": st.Attribute, "op": st.Op, "cursor": cursor} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if st.Attribute != "" && opKind(st.Op) != "none" {
		v.Set("value", st.Value)
	}
	if st.Limit > 0 {
		v.Set("limit", strconv.Itoa(st.Limit))
	}
	if len(v) == 0 {
		return "/profiles"
	}
	return "/profiles?" + v.Encode()
}
