package storage

// Health is what Pebble and the body segments say about themselves, for /metrics: how far behind its
// compactions are, how many tables a read may touch, what the WAL and the block
// cache do. Plain numbers, so no Pebble type leaves the package. Counters count
// from Open.
type Health struct {
	Compactions           int64  // compactions finished
	CompactionsInProgress int64  // compactions running now
	CompactionDebtBytes   uint64 // bytes compactions must rewrite to settle the LSM
	Flushes               int64  // memtable flushes finished
	// ReadAmp is the read amplification: the sublevels of L0 plus the non-empty
	// levels below, the tables a point read may have to look at. Pebble's
	// operators worry past about 20.
	ReadAmp         int
	Tables          int64  // live sstables
	MemtableBytes   uint64 // bytes in the memtables
	WALFiles        int64  // live WAL files
	WALBytes        uint64 // physical size of the live WAL files
	WALWrittenBytes uint64 // bytes written to the WAL
	// BlockCacheHits and BlockCacheMisses count lookups of the block cache;
	// hits / (hits + misses) is its hit rate.
	BlockCacheHits   int64
	BlockCacheMisses int64
	BlockCacheBytes  int64  // bytes the block cache holds now
	DiskBytes        uint64 // bytes on disk: live and obsolete tables, WAL, body segments (DiskUsage)
	// Bodies is what the body segments hold (segments.go): their files, live
	// and dead bytes, the in-memory index, damaged records read, and what the
	// garbage pass reclaimed.
	Bodies BodyStats
}

// Health reads Pebble's metrics (one db.Metrics call). After Close it returns
// ErrClosed.
func (s *Store) Health() (Health, error) {
	if err := s.enter(); err != nil {
		return Health{}, err
	}
	defer s.leave()
	m := s.db.Metrics()
	bodies := s.bodies.stats()
	return Health{
		Bodies:                bodies,
		Compactions:           m.Compact.Count,
		CompactionsInProgress: m.Compact.NumInProgress,
		CompactionDebtBytes:   m.Compact.EstimatedDebt,
		Flushes:               m.Flush.Count,
		ReadAmp:               m.ReadAmp(),
		Tables:                m.Total().TablesCount,
		MemtableBytes:         m.MemTable.Size,
		WALFiles:              m.WAL.Files,
		WALBytes:              m.WAL.PhysicalSize,
		WALWrittenBytes:       m.WAL.BytesWritten,
		BlockCacheHits:        m.BlockCache.Hits,
		BlockCacheMisses:      m.BlockCache.Misses,
		BlockCacheBytes:       m.BlockCache.Size,
		DiskBytes:             m.DiskSpaceUsage() + uint64(bodies.Bytes),
	}, nil
}
