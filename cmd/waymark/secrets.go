package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/store"
)

const secretsUsage = "secrets rotate [--dry-run] | secrets check"

// secretsHelp explains the rotation procedure (printed by --help).
const secretsHelp = `Every secret Waymark stores is sealed with WAYMARK_SECRET_KEY (AES-256-GCM):
connector secrets (passwords, tokens) and journey webhook signing secrets.
Each value records the id of the key that sealed it.

  waymark secrets check     opens every stored secret with the configured key(s)
  waymark secrets rotate    seals every secret again with the new key

To rotate:
  1. generate a key:      openssl rand -base64 32
  2. run, with the new key as WAYMARK_SECRET_KEY and the current one(s) in
     WAYMARK_SECRET_KEY_OLD (comma-separated, base64 or hex):
        WAYMARK_SECRET_KEY=<new> WAYMARK_SECRET_KEY_OLD=<current> waymark secrets rotate
  3. configure WAYMARK_SECRET_KEY=<new> for every process (embedded mode:
     write it to <data dir>/secret.key) and restart them. Keep
     WAYMARK_SECRET_KEY_OLD set on web processes while old unsubscribe
     links should keep working (they are sealed with the key of their day).
  4. 'waymark secrets check' with only the new key says whether the old one
     can go; the server runs the same check at start and refuses a key that
     does not open every stored secret.
Rotation is idempotent: running it again re-seals nothing. A secret that
opens with none of the keys stops it before anything is changed.
`

func (c *cli) secrets(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "check") {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
			fmt.Fprintf(c.stdout, "Usage: waymark %s\n\n%s", secretsUsage, secretsHelp)
			return nil
		}
		return usageError("usage: waymark %s (run 'waymark secrets --help')", secretsUsage)
	}
	sub := args[0]
	fs := newFlags("secrets " + sub)
	dryRun := fs.Bool("dry-run", false, "count what would be re-sealed, change nothing (rotate)")
	if err := c.parse(fs, secretsUsage, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, "\n"+secretsHelp)
		}
		return err
	}
	cfg, err := loadConfig(c.getenv)
	if err != nil {
		return err
	}
	if cfg.SecretKey == nil {
		if sub == "rotate" {
			return badConfig("WAYMARK_SECRET_KEY", "set it (or WAYMARK_SECRET_KEY_FILE) to the new key to rotate to; the current key goes in WAYMARK_SECRET_KEY_OLD")
		}
		// check: the embedded key file, if there is one; never generate one.
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "secret.key")); err != nil {
			return badConfig("WAYMARK_SECRET_KEY", "not set, and no %s", filepath.Join(cfg.DataDir, "secret.key"))
		}
		if _, err := cfg.ensureSecretKey(); err != nil {
			return err
		}
	}
	keys, err := secrets.NewKeyring(cfg.SecretKey, cfg.SecretKeysOld...)
	if err != nil {
		return badConfig("WAYMARK_SECRET_KEY", "%v", err)
	}
	st, err := c.openForAdmin(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	if sub == "check" {
		rep, err := connectors.RotateSecrets(ctx, st, keys, true)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "ok: %d secret value(s) in %s open with the configured keys; %d sealed with the current key %s, %d with an older key\n",
			rep.Values(), where(rep), rep.Current, keys.PrimaryID(), rep.Resealed)
		return nil
	}
	rep, err := connectors.RotateSecrets(ctx, st, keys, *dryRun)
	if err != nil {
		return fmt.Errorf("rotating secrets (nothing more was changed): %w", err)
	}
	if *dryRun {
		fmt.Fprintf(c.stdout, "dry run: %d secret value(s) in %s would be sealed again with key %s; %d already are\n",
			rep.Resealed, where(rep), keys.PrimaryID(), rep.Current)
		return nil
	}
	if _, err := st.AppendAudit(ctx, store.AuditEntry{WorkspaceID: store.DefaultWorkspaceID, ActorType: "system", ActorID: "cli",
		Action: "secrets.rotate", Summary: map[string]any{"resealed": rep.Resealed, "connectors": rep.Connectors, "journeys": rep.Journeys,
			"key_id": keys.PrimaryID()}}); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "sealed %d secret value(s) in %s again with key %s (%d already were)\n",
		rep.Resealed, where(rep), keys.PrimaryID(), rep.Current)
	fmt.Fprintln(c.stdout, "next: set WAYMARK_SECRET_KEY to the new key for every process and restart them (see 'waymark secrets --help')")
	return nil
}

// where says where a report's values are: "2 connector(s) and 1 journey webhook(s)".
func where(rep connectors.RotateReport) string {
	return fmt.Sprintf("%d connector(s) and %d journey webhook(s)", rep.Connectors, rep.Journeys)
}
