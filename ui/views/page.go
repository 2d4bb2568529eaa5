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
}

// User is the signed-in user as the layout shows them.
type User struct {
	Email string
	Role  string
}

// FieldErrors maps a form field name to its message.
type FieldErrors map[string]string
