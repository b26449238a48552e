(identifier) @reference
(type_identifier) @reference
(property_identifier) @reference
