-- The colour changes topic (eventstore.ColourChangesTopic) reads only the
-- colour-assigned events after a consumer group's position: this index
-- finds them without reading the scans in between.
CREATE INDEX events_colour_changes ON events (position) WHERE type = 'ColourAssigned';
