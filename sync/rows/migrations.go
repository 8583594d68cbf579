package rows

import (
	"embed"
	"io/fs"

	"github.com/webhost-systems/webhost/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates and evolves the rowsync schema. Its name is stable: it
// names the version table webhost_migrations_rowsync.
var Migrations = migrate.Component{Name: "rowsync", FS: mustSub(migrationFiles, "migrations")}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // the embedded directory is fixed at build time
	}
	return sub
}
