// Package views holds Waymark's templ components. Components take typed
// props and escape every user-supplied string (templ does so by default).
package views

// Page is what every full page needs.
type Page struct {
	Title   string
	User    *User // nil when signed out
	CSRF    string
	CSSURL  string
	JSURL   string
	Flash   string
	Version string
	// Styles and Scripts are extra stylesheets and (deferred) scripts, by
	// hashed URL, in load order.
	Styles  []string
	Scripts []string
	// Modules are entry scripts loaded as ES modules (type="module",
	// deferred by nature), after Scripts in document order.
	Modules []string
	// App makes the page a full-window application (the editor): no
	// width limit, no footer.
	App bool
	// FaviconURL is the hashed URL of the favicon.
	FaviconURL string
}

// User is the signed-in user as the layout shows them.
type User struct {
	Email string
	Role  string
}

// FieldErrors maps a form field name to its message.
type FieldErrors map[string]string
