/**
 * WhatsApp reactions are unicode emoji; Slack's `reactions.add` takes a short name. This table holds
 * the emoji people react with most (WhatsApp's default six first); an emoji not in it is shown as a
 * thread note instead of a reaction.
 */
const NAMES: Record<string, string> = {
  '👍': '+1',
  '❤': 'heart',
  '😂': 'joy',
  '😮': 'open_mouth',
  '😢': 'cry',
  '🙏': 'pray',
  '👎': '-1',
  '👏': 'clap',
  '🔥': 'fire',
  '🎉': 'tada',
  '😀': 'grinning',
  '😃': 'smiley',
  '😄': 'smile',
  '😁': 'grin',
  '😆': 'laughing',
  '😅': 'sweat_smile',
  '🤣': 'rolling_on_the_floor_laughing',
  '😊': 'blush',
  '🙂': 'slightly_smiling_face',
  '😉': 'wink',
  '😍': 'heart_eyes',
  '🥰': 'smiling_face_with_3_hearts',
  '😘': 'kissing_heart',
  '😎': 'sunglasses',
  '🤔': 'thinking_face',
  '😐': 'neutral_face',
  '🙄': 'face_with_rolling_eyes',
  '😬': 'grimacing',
  '😔': 'pensive',
  '😞': 'disappointed',
  '😭': 'sob',
  '😡': 'rage',
  '😠': 'angry',
  '😱': 'scream',
  '😳': 'flushed',
  '🥺': 'pleading_face',
  '🤯': 'exploding_head',
  '🤗': 'hugging_face',
  '🤝': 'handshake',
  '👌': 'ok_hand',
  '✌': 'v',
  '🤞': 'crossed_fingers',
  '👋': 'wave',
  '🙌': 'raised_hands',
  '💪': 'muscle',
  '👀': 'eyes',
  '💯': '100',
  '✅': 'white_check_mark',
  '✔': 'heavy_check_mark',
  '❌': 'x',
  '⭐': 'star',
  '🌟': 'star2',
  '✨': 'sparkles',
  '💔': 'broken_heart',
  '💙': 'blue_heart',
  '💚': 'green_heart',
  '💛': 'yellow_heart',
  '🧡': 'orange_heart',
  '💜': 'purple_heart',
  '🖤': 'black_heart',
  '🤍': 'white_heart',
  '😴': 'sleeping',
  '🤷': 'shrug',
  '🤦': 'face_palm',
  '🎂': 'birthday',
  '🎁': 'gift',
  '☕': 'coffee',
  '🍕': 'pizza',
  '🚀': 'rocket',
  '⚠': 'warning',
  '❓': 'question',
  '❗': 'exclamation',
  '💡': 'bulb',
  '📦': 'package',
  '🚚': 'truck',
  '💰': 'moneybag',
  '📞': 'telephone_receiver',
  '😇': 'innocent',
  '🤩': 'star-struck',
  '🥳': 'partying_face',
  '😋': 'yum',
  '😜': 'stuck_out_tongue_winking_eye',
};

const SKIN_TONES: Record<string, string> = {
  '\u{1F3FB}': 'skin-tone-2',
  '\u{1F3FC}': 'skin-tone-3',
  '\u{1F3FD}': 'skin-tone-4',
  '\u{1F3FE}': 'skin-tone-5',
  '\u{1F3FF}': 'skin-tone-6',
};

/** The Slack reaction name of a WhatsApp emoji (`👍🏽` → `+1::skin-tone-4`), or null if unknown. */
export function slackReactionName(emoji: string): string | null {
  let base = emoji.replace(/\uFE0F/g, '');
  let tone = '';
  for (const [modifier, name] of Object.entries(SKIN_TONES)) {
    if (base.includes(modifier)) {
      tone = `::${name}`;
      base = base.replace(modifier, '');
    }
  }
  const name = NAMES[base];
  return name ? `${name}${tone}` : null;
}

/** Emoji Slack writes under another name than the table's (`:thumbsup:` is `:+1:`). */
const ALIASES: Record<string, string> = {
  thumbsup: '👍',
  thumbsdown: '👎',
  simple_smile: '🙂',
  heavy_heart_exclamation_mark_ornament: '❣️',
  raising_hand: '🙋',
  facepalm: '🤦',
  white_frowning_face: '☹️',
  slightly_frowning_face: '🙁',
  wink2: '😉',
  smiling_face_with_smiling_eyes: '😊',
};

/** Characters of the table that need U+FE0F to show as emoji rather than as text on phones. */
const TEXT_STYLE = new Set(['❤', '✌', '✔', '⚠']);

const BY_NAME: Record<string, string> = {
  ...Object.fromEntries(
    Object.entries(NAMES).map(([emoji, name]) => [name, TEXT_STYLE.has(emoji) ? `${emoji}\uFE0F` : emoji]),
  ),
  ...ALIASES,
};
const TONES: Record<string, string> = Object.fromEntries(
  Object.entries(SKIN_TONES).map(([modifier, name]) => [name, modifier]),
);

/**
 * The unicode emoji of a Slack short name (`+1`, `+1` with `skin-tone-4` → `👍🏽`), or null if
 * unknown (a custom emoji, or one the table lacks).
 */
export function emojiOfSlackName(name: string, tone?: string): string | null {
  const emoji = BY_NAME[name];
  if (!emoji) return null;
  const modifier = tone ? TONES[tone] : undefined;
  return modifier ? `${emoji.replace(/\uFE0F$/, '')}${modifier}` : emoji;
}
