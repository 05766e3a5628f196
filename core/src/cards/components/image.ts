import { TributaryError } from '../../errors.ts';
import { escapeHtml } from '../html.ts';
import { CardComponent } from './component.ts';

/** @public */
export type ImageType = 'image/png' | 'image/jpeg' | 'image/svg+xml' | 'image/gif' | 'image/webp';

/** Options of an {@link Image}. @public */
export interface ImageOptions {
  /** Shown under the image (and as its alt text). */
  label?: string;
  /** Default: found from the bytes (PNG, JPEG, GIF, WebP, SVG). */
  type?: ImageType;
  /** Width in CSS pixels (default: the image's own, at most the card's width). */
  width?: number;
}

function sniff(bytes: Uint8Array): ImageType | undefined {
  const b = bytes;
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'image/gif';
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) return 'image/webp';
  const head = Buffer.from(b.subarray(0, 512)).toString('utf8').trimStart();
  if (/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]/i.test(head)) return 'image/svg+xml';
  return undefined;
}

/**
 * An image from its bytes (PNG, JPEG, GIF, WebP or SVG; an SVG can also be given as a string).
 * Embedded in the card as a data URL: the card needs no network. SVG is shown through `<img>`,
 * where its scripts never run.
 * @public
 */
export class Image extends CardComponent {
  readonly kind = 'image';
  readonly type: ImageType;
  readonly bytes: Uint8Array;

  constructor(
    image: Uint8Array | ArrayBuffer | string,
    readonly options: ImageOptions = {},
  ) {
    super();
    const bytes = typeof image === 'string' ? Buffer.from(image, 'utf8') : image instanceof ArrayBuffer ? new Uint8Array(image) : image;
    if (!(bytes instanceof Uint8Array))
      throw new TypeError('Image takes the bytes of an image (Uint8Array, Buffer, ArrayBuffer) or SVG text.');
    const type = options.type ?? sniff(bytes);
    if (!type)
      throw new TributaryError(
        'PARAM_INVALID',
        'Image: these bytes are not a PNG, JPEG, GIF, WebP or SVG image. Pass { type } if you know the format.',
      );
    this.type = type;
    this.bytes = bytes;
  }

  toHtml(): string {
    const src = `data:${this.type};base64,${Buffer.from(this.bytes).toString('base64')}`;
    const label = this.options.label;
    const width = this.options.width ? ` width="${Math.round(this.options.width)}"` : '';
    const img = `<img src="${src}" alt="${escapeHtml(label ?? 'image')}"${width}>`;
    return `<figure>${img}${label ? `<figcaption>${escapeHtml(label)}</figcaption>` : ''}</figure>`;
  }
}
