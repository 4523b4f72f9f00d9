package storage

import (
	"errors"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

const (
	defaultBlockCache   = 64 << 20
	defaultHotCache     = 64 << 20
	defaultMinFreeBytes = 256 << 20
)

// Options configure a Store. The zero value of every field means its default,
// filled in by EnsureDefaults.
type Options struct {
	// Dir is the database directory; created when missing. Required unless
	// InMemory.
	Dir string
	// InMemory keeps the database in memory (vfs.NewMem), for unit tests.
	InMemory bool
	// BlockCache is the size in bytes of Pebble's block cache; default 64 MiB.
	BlockCache int64
	// HotCache is the size in bytes of the hot-body cache: the decoded pages
	// of recent hits, plain bodies included, kept in memory (hot.go). Default
	// 64 MiB; negative turns it off (every hit reads Pebble, and a plain
	// client's hit gunzips the page).
	HotCache int64
	// MaxBytes bounds the cache: the actors evict the least recently hit pages
	// when StoredBytes passes it. Storage only keeps the figure; 0 means unbounded.
	MaxBytes int64
	// MinFreeBytes is the free-space guard: writes are refused with ErrDiskFull
	// when the filesystem holding Dir has less free space than this plus the
	// write itself. Default 256 MiB; 0 means the default.
	MinFreeBytes int64
	// Logger receives storage and Pebble events; default slog.Default().
	Logger *slog.Logger
	// FreeBytes, when set, replaces the statfs of Dir that the free-space
	// guard reads, so that tests can give the store a disk of any fullness.
	FreeBytes func() (int64, error)

	// indexHash replaces the body index's hash of a key, so that tests can
	// make keys collide; segmentTarget replaces segmentTarget, so that tests
	// fill segments with a few pages. Not knobs: tests only.
	indexHash     func(string) uint64
	segmentTarget int64
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.BlockCache == 0 {
		o.BlockCache = defaultBlockCache
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = defaultMinFreeBytes
	}
	if o.HotCache == 0 {
		o.HotCache = defaultHotCache
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports the first bad field.
func (o *Options) Validate() error {
	switch {
	case o.Dir == "" && !o.InMemory:
		return errors.New("storage: Options.Dir is empty (set it, or InMemory for tests)")
	case o.BlockCache < 0:
		return errors.New("storage: Options.BlockCache is negative")
	case o.MaxBytes < 0:
		return errors.New("storage: Options.MaxBytes is negative")
	case o.MinFreeBytes < 0:
		return errors.New("storage: Options.MinFreeBytes is negative")
	}
	return nil
}

// memTableSize holds a few hundred pages of ~40 KB (gzip + plain) per flush
// instead of Pebble's 4 MiB default, which would flush every ~100 pages.
const memTableSize = 32 << 20

// pebbleOptions is how prerenderd runs Pebble (make bench-scale measures it at
// scale, README "Performance at a million pages").
func pebbleOptions(cache *pebble.Cache, logger pebble.Logger) *pebble.Options {
	po := &pebble.Options{
		Cache:              cache,
		FormatMajorVersion: formatVersion,
		MaxOpenFiles:       maxOpenFiles(),
		MemTableSize:       memTableSize,
		Logger:             logger,
	}
	// Bloom filters on every level: most Gets of a cache server are for one
	// key, and a miss must not read a data block per level.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].FilterType = pebble.TableFilter
	}
	// Not Pebble's value separation (page bodies in blob files, the tables
	// keeping keys and summaries): at 200,000 pages (make bench-scale) it filled
	// 1.18x as fast but took 1.29x the disk (5.84 against 4.53 GiB), and served
	// random hits no faster.
	return po
}
