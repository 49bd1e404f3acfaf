import { Initial1795597283909 } from '../../migrations/1795597283909-Initial.js';
import { ConversationTurns1795598299578 } from '../../migrations/1795598299578-ConversationTurns.js';
import { ApiKeys1796114821167 } from '../../migrations/1796114821167-ApiKeys.js';
import { ContextStart1796115000000 } from '../../migrations/1796115000000-ContextStart.js';
import { UsageRecords1796117794868 } from '../../migrations/1796117794868-UsageRecords.js';
import { ApiKeyLimits1796118441931 } from '../../migrations/1796118441931-ApiKeyLimits.js';
import { ChangeNotifications1796118500000 } from '../../migrations/1796118500000-ChangeNotifications.js';

/**
 * Every migration, oldest first. Listed explicitly rather than globbed so the same list works from `dist/`, under
 * Jest and under tsx; a new file in migrations/ takes effect only once it is added here.
 */
export const MIGRATIONS = [
  Initial1795597283909,
  ConversationTurns1795598299578,
  ApiKeys1796114821167,
  ContextStart1796115000000,
  UsageRecords1796117794868,
  ApiKeyLimits1796118441931,
  ChangeNotifications1796118500000,
];
