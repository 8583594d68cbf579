package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/google/uuid"

	wcommands "github.com/webhost-systems/webhost/commands"
	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/httpapi"
)

// runAdmin is `webhost admin create-key`: it signs up the platform
// operator on first use (a customer with the fixed ID
// httpapi.OperatorCustomerID) and prints a new operator API key with the
// admin scope, which the /v1/admin endpoints accept.
func runAdmin(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	dsn := fs.String("database-url", envOr("WEBHOST_DATABASE_URL", defaultDatabaseURL), "PostgreSQL URL (WEBHOST_DATABASE_URL)")
	name := fs.String("name", "operator", "label of the new key")
	email := fs.String("email", envOr("WEBHOST_OPERATOR_EMAIL", "operator@webhost.systems"), "operator e-mail, used on first sign-up (WEBHOST_OPERATOR_EMAIL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "create-key" {
		return errors.New("usage: webhost admin [--database-url URL] [--name NAME] create-key")
	}
	p, err := openPlatform(ctx, *dsn, envOr("WEBHOST_SECRET_KEY", ""), 0, logger)
	if err != nil {
		return err
	}
	defer p.close()
	key, id, err := createOperatorKey(ctx, p.commands, *name, *email)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "operator API key %s (shown once):\n%s\n", id, key)
	return err
}

// createOperatorKey returns a new admin key of the operator account,
// signing the operator up first when needed.
func createOperatorKey(ctx context.Context, cmds *wcommands.Handlers, name, email string) (key string, keyID uuid.UUID, err error) {
	meta := wcommands.Meta{CommandID: httpapi.OperatorSignUpCommandID, Actor: "admin:cli"}
	su, err := cmds.SignUp.Handle(ctx, wcommands.SignUp{Meta: meta, Name: "WebHost operator", Email: email,
		Slug: "webhost-operator", Company: "WebHost", APIKeyName: name})
	if err != nil {
		return "", uuid.Nil, fmt.Errorf("operator account: %w", err)
	}
	if su.APIKey != "" {
		return su.APIKey, su.APIKeyID, nil
	}
	res, err := cmds.IssueAPIKey.Handle(ctx, wcommands.IssueAPIKey{Meta: wcommands.Meta{CommandID: uuid.New(), Actor: "admin:cli"},
		CustomerID: httpapi.OperatorCustomerID, Name: name, Scopes: []string{domain.ScopeRead, domain.ScopeWrite, domain.ScopeAdmin}})
	if err != nil {
		return "", uuid.Nil, fmt.Errorf("operator key: %w", err)
	}
	return res.APIKey, res.KeyID, nil
}
