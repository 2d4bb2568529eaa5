package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
)

func (c *cli) users(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError("usage: waymark users create --email E --role admin|editor|viewer [--name N] [--password-stdin]")
	}
	const usage = "users create --email E --role R [--name N] [--password-stdin]"
	fs := newFlags("users create")
	email := fs.String("email", "", "the user's email address (their login)")
	role := fs.String("role", "viewer", "admin, editor or viewer")
	name := fs.String("name", "", "display name (defaults to the email)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from standard input instead of generating one")
	if err := c.parse(fs, usage, args[1:]); err != nil {
		return err
	}
	if _, err := mail.ParseAddress(*email); err != nil || !strings.Contains(*email, "@") {
		return usageError("users create: --email: want a valid email address, got %q", *email)
	}
	r := store.Role(*role)
	if !r.Valid() {
		return usageError("users create: --role: want admin, editor or viewer, got %q", *role)
	}
	password, generated := "", false
	if *pwStdin {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && line == "" {
			return usageError("users create: --password-stdin: no password on standard input")
		}
		password = strings.TrimRight(line, "\r\n")
		if err := auth.CheckPassword(password); err != nil {
			return usageError("users create: %v", err)
		}
	} else {
		password, generated = auth.Token(18), true
	}
	if *name == "" {
		*name = *email
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	st, err := c.openForAdmin(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.CreateUser(ctx, store.User{WorkspaceID: store.DefaultWorkspaceID, Email: *email, Name: *name, PasswordHash: hash, Role: r})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("users create: a user with email %s already exists", store.NormalizeEmail(*email))
	}
	if err != nil {
		return err
	}
	if _, err := st.AppendAudit(ctx, store.AuditEntry{WorkspaceID: u.WorkspaceID, ActorType: "system", ActorID: "cli",
		Action: "user.create", TargetType: "user", TargetID: u.ID, Summary: map[string]any{"role": string(r), "via": "cli"}}); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "created %s user %s (id %s)\n", r, u.Email, u.ID)
	if generated {
		fmt.Fprintf(c.stdout, "password (shown once): %s\n", password)
	}
	return nil
}

func (c *cli) apikeys(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError("usage: waymark apikeys create --name N --scopes S")
	}
	const usage = "apikeys create --name N --scopes S"
	fs := newFlags("apikeys create")
	name := fs.String("name", "", "a name to recognise the key by")
	scopes := fs.String("scopes", "", "comma-separated: "+strings.Join(auth.Scopes, ", "))
	if err := c.parse(fs, usage, args[1:]); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return usageError("apikeys create: --name is required")
	}
	sc, err := auth.ParseScopes(*scopes)
	if err != nil {
		return usageError("apikeys create: --scopes: %v", err)
	}
	st, err := c.openForAdmin(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	key, prefix, hash := auth.NewAPIKey()
	k, err := st.CreateAPIKey(ctx, store.APIKey{WorkspaceID: store.DefaultWorkspaceID, Name: strings.TrimSpace(*name), Prefix: prefix, KeyHash: hash, Scopes: sc, CreatedBy: "cli"})
	if err != nil {
		return err
	}
	if _, err := st.AppendAudit(ctx, store.AuditEntry{WorkspaceID: k.WorkspaceID, ActorType: "system", ActorID: "cli",
		Action: "api_key.create", TargetType: "api_key", TargetID: k.ID, Summary: map[string]any{"name": k.Name, "scopes": sc}}); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, key)
	fmt.Fprintf(c.stderr, "created API key %q (id %s, scopes %s); the key above is shown only once\n", k.Name, k.ID, strings.Join(sc, ","))
	return nil
}
