// A parse worker that cannot start: parse-pool must fall back to parsing inline, not respawn forever.
throw new Error('cannot load the parser');
