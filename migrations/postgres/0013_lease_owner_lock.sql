-- Whether the lease's owner also holds the process-liveness lock (a PostgreSQL session advisory lock, or
-- an OS file lock beside the SQLite file). Such an owner is known dead the moment that lock is free —
-- the server or the kernel drops it with the process — so its run is taken over at once instead of
-- after the lease expires. An owner that took the lease without the lock is waited for as before.
ALTER TABLE sync_lease ADD COLUMN owner_locked BOOLEAN NOT NULL DEFAULT FALSE;
