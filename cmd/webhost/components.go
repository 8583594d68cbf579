package main

import (
	"github.com/webhost-systems/webhost/eventstore/postgres"
	"github.com/webhost-systems/webhost/internal/migrate"
)

// allMigrations lists the components whose schemas `webhost migrate`
// manages, in dependency order.
var allMigrations = []migrate.Component{
	postgres.Migrations,
}
