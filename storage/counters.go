package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The page count and the stored bytes are persisted in n/pages, written in the
// same batch as every change of them (and deleted with the last page), so that Open reads one key instead of
// walking every summary (2.9 s at a million pages, before the HTTP port opened).
//
// INVARIANT: every batch that adds or removes an i/ key, or changes the size it
// records, commits through commitCounted, which writes n/pages in it. Pebble
// applies a batch whole or not at all, also across kill -9, so the persisted
// counters always agree with the i/ keys of the same state.
//
// A binary older than the counters writes pages without them. Each record names
// the Pebble session that wrote it (its OPTIONS file, which Pebble writes anew at
// every Open); when the previous session is not the one the record names, some
// other binary opened the store in between and Open counts the pages again.

// counterKey holds the record: a version byte, the page count and the stored
// bytes (int64 each, little endian), then the name of the session's OPTIONS file.
var counterKey = []byte(prefixCounter + "pages")

const (
	counterVersion  = 1
	counterFixedLen = 1 + 8 + 8
)

type counters struct {
	pages, bytes int64
	session      string
}

func encodeCounters(c counters) []byte {
	b := make([]byte, 0, counterFixedLen+len(c.session))
	b = append(b, counterVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(c.pages))
	b = binary.LittleEndian.AppendUint64(b, uint64(c.bytes))
	return append(b, c.session...)
}

func decodeCounters(v []byte) (counters, error) {
	if len(v) < counterFixedLen || v[0] != counterVersion {
		return counters{}, corruptf("counter record of %d bytes, version %d", len(v), firstByte(v))
	}
	c := counters{
		pages:   int64(binary.LittleEndian.Uint64(v[1:])),
		bytes:   int64(binary.LittleEndian.Uint64(v[9:])),
		session: string(v[counterFixedLen:]),
	}
	if c.pages < 0 || c.bytes < 0 {
		return counters{}, corruptf("counter record with %d pages, %d bytes", c.pages, c.bytes)
	}
	return c, nil
}

func firstByte(v []byte) int {
	if len(v) == 0 {
		return -1
	}
	return int(v[0])
}

// lastSession is the base name of the newest OPTIONS file in dir: before Open, the
// session that last opened the store; after it, this one. "" when there is none
// (a new store) or it cannot be read, which only costs a count at the next Open.
func lastSession(dir string, fs vfs.FS) string {
	desc, err := pebble.Peek(dir, fs)
	if err != nil || desc.OptionsFilename == "" {
		return ""
	}
	return filepath.Base(desc.OptionsFilename)
}

// restoreCounters sets s.pages and s.bytes on Open: from n/pages when the last
// session wrote it, else by counting the summaries; then it writes the record for
// this session. It reports whether it counted.
func (s *Store) restoreCounters(prevSession, session string) (counted bool, err error) {
	s.session = session
	c, found, err := s.readCounters()
	if err != nil {
		s.log.Warn("storage cannot read its page counters, counting the pages", "err", err)
	}
	trusted := err == nil && found && prevSession != "" && c.session == prevSession
	if !trusted {
		n, size, err := s.countPages()
		if err != nil {
			return false, err
		}
		c = counters{pages: n, bytes: size}
		if found && c.session != prevSession {
			s.log.Info("storage counted its pages: another binary wrote since the counters were kept",
				"pages", n, "counters_session", c.session, "last_session", prevSession)
		}
	}
	s.pages.Store(c.pages)
	s.bytes.Store(c.bytes)
	if s.opts.InMemory || (c.pages == 0 && c.bytes == 0 && !found) {
		// Nothing outlives an in-memory store; an empty store has no record, and
		// counting it costs nothing.
		return !trusted, nil
	}
	// Name this session in the record even when nothing changes, so that the next
	// Open can trust it. A refused write (low disk) costs a count then, no more.
	if err := s.checkFree(int64(len(counterKey)+counterFixedLen+len(session)), s.opts.MinFreeBytes); err != nil {
		s.log.Warn("storage cannot keep its page counters: the next start counts the pages", "err", err)
		return !trusted, nil
	}
	c.session = session
	if err := s.db.Set(counterKey, encodeCounters(c), pebble.Sync); err != nil {
		return false, fmt.Errorf("cannot write the page counters: %w", err)
	}
	return !trusted, nil
}

func (s *Store) readCounters() (counters, bool, error) {
	v, closer, err := s.db.Get(counterKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return counters{}, false, nil
	}
	if err != nil {
		return counters{}, false, fmt.Errorf("cannot read the page counters: %w", err)
	}
	defer closer.Close()
	c, err := decodeCounters(v)
	return c, true, err
}

// commitCounted commits b with the page count and stored bytes moved by pages and
// bytes, and the record of both in the batch. Batches that change the counters
// take countMu, so that Pebble orders them as their records were computed: the
// record of the last one applied is the sum of all. A synced batch is applied
// under the lock and its fsync waited for outside it, so concurrent puts still
// share fsyncs (Pebble's group commit).
//
// applied, when not nil, runs once the batch is applied and before its fsync is
// waited for (under countMu when the counters move).
func (s *Store) commitCounted(b *pebble.Batch, wo *pebble.WriteOptions, pages, bytes int64, applied func()) error {
	if pages == 0 && bytes == 0 {
		if applied == nil {
			return b.Commit(wo)
		}
		if !wo.Sync {
			if err := b.Commit(wo); err != nil {
				return err
			}
			applied()
			return nil
		}
		if err := s.db.ApplyNoSyncWait(b, wo); err != nil {
			return err
		}
		applied()
		return b.SyncWait()
	}
	s.countMu.Lock()
	c := counters{pages: s.pages.Load() + pages, bytes: s.bytes.Load() + bytes, session: s.session}
	if c.pages == 0 && c.bytes == 0 {
		// An empty store keeps no record (and so leaves no key behind its last
		// page); the next Open counts nothing.
		_ = b.Delete(counterKey, nil)
	} else {
		_ = b.Set(counterKey, encodeCounters(c), nil)
	}
	var err error
	if wo.Sync {
		err = s.db.ApplyNoSyncWait(b, wo)
	} else {
		err = b.Commit(wo)
	}
	if err == nil {
		// Readers see the counters once the batch is visible: Pebble makes it
		// visible before its fsync, with or without waiting for it.
		s.pages.Store(c.pages)
		s.bytes.Store(c.bytes)
		if applied != nil {
			applied()
		}
	}
	s.countMu.Unlock()
	if err == nil && wo.Sync {
		err = b.SyncWait()
	}
	return err
}

// Recount walks every page summary and returns the page count and stored bytes
// they add up to, without changing the counters: a check that PageCount and
// StoredBytes agree with the pages (tests, and the scale benchmark).
func (s *Store) Recount() (pages, bytes int64, err error) {
	if err := s.enter(); err != nil {
		return 0, 0, err
	}
	defer s.leave()
	return s.countPages()
}
