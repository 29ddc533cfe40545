/** The language's view of fields: the schema types live with the field registry (src/model). */
export * from '../model/schema.js';
