package main

import (
	"github.com/webhost-systems/webhost/eventstore/postgres"
	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/projections"
	"github.com/webhost-systems/webhost/providers/mail"
	"github.com/webhost-systems/webhost/secrets"
	"github.com/webhost-systems/webhost/sync/rows"
	"github.com/webhost-systems/webhost/sync/yws"
)

// allMigrations lists the components whose schemas `webhost migrate`
// manages, in dependency order.
var allMigrations = []migrate.Component{
	postgres.Migrations,
	secrets.Migrations,
	projections.Migrations,
	processes.Migrations,
	mail.Migrations,
	yws.Migrations,
	rows.Migrations,
}
