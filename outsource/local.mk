# outsource/: host-side services (sock/, fs/, mem/), linked into hostrpcd's workers
