#version 330 core
// A 360-degree photo or video (equirectangular) on a sphere at infinity, with the breathing guide as a
// soft halo in it. The picture keeps gravity: its horizon stays level whatever the posture, so a client
// lying face-up sees its sky and one lying face-down its ground; yaw turns it about the vertical.
in vec2 v_ndc;
out vec4 frag_color;

uniform float u_time;
uniform float u_breath;
uniform float u_calm;
uniform float u_fade;
uniform mat4 u_inv_view_proj;
uniform vec3 u_eye_pos;
uniform vec3 u_rest_forward;
uniform vec3 u_rest_up;
uniform vec2 u_resolution;

uniform sampler2D u_panorama;  // a photo: RGB, mipmapped; the whole picture (both eyes for stereo layouts)
uniform bool u_yuv;            // a video: its frame as Y, U and V planes (chroma at half size), mipmapped
uniform sampler2D u_y;
uniform sampler2D u_u;
uniform sampler2D u_v;
uniform sampler2D u_first_y;   // the video's first frame, where each loop fades to
uniform sampler2D u_first_u;
uniform sampler2D u_first_v;
uniform float u_loop_blend;
uniform bool u_full_range;     // JPEG range (0-255) rather than video range (16-235)
uniform bool u_bt601;          // the video's colour matrix: BT.601 (SD footage) rather than BT.709
uniform int u_layout;          // 0 mono, 1 top-bottom (left eye on top), 2 side-by-side (left eye left)
uniform int u_eye_index;       // 0 left, 1 right
uniform float u_yaw;           // radians: the picture's yaw shown straight ahead
uniform vec2 u_media_texels;   // one eye's part of the picture, in texels

const float PI = 3.14159265;

// Where a world direction falls in one eye's equirectangular part, on 0..1 (u may leave 0..1: wrapped below).
vec2 equirect(vec3 d) {
    float azimuth = atan(d.x, -d.z);  // 0 straight ahead (-z), positive to the right (+x)
    float elevation = asin(clamp(d.y, -1.0, 1.0));
    return vec2(azimuth / (2.0 * PI) + 0.5 + u_yaw / (2.0 * PI), 0.5 - elevation / PI);
}

// The eye's part of the picture, whose rows are uploaded top row first (v = 0 is the top). u wraps inside
// the part; v stays half a texel off its edges so that the other eye's half never bleeds in.
vec2 in_picture(vec2 uv) {
    uv.x = fract(uv.x);
    float half_texel = 0.5 / u_media_texels.y;
    uv.y = clamp(uv.y, half_texel, 1.0 - half_texel);
    if (u_layout == 1) return vec2(uv.x, (uv.y + float(u_eye_index)) * 0.5);
    if (u_layout == 2) return vec2((uv.x + float(u_eye_index)) * 0.5, uv.y);
    return uv;
}

// The video's colour matrix: BT.709 (HD and 360-degree footage) or BT.601 (SD).
vec3 rgb_of(float y, float cb, float cr) {
    cb -= 0.5;
    cr -= 0.5;
    if (!u_full_range) {
        y = (y - 16.0 / 255.0) * (255.0 / 219.0);
        cb *= 255.0 / 224.0;
        cr *= 255.0 / 224.0;
    }
    vec3 rgb = u_bt601 ? vec3(y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb)
                       : vec3(y + 1.5748 * cr, y - 0.1873 * cb - 0.4681 * cr, y + 1.8556 * cb);
    return clamp(rgb, 0.0, 1.0);
}

vec3 picture(vec2 uv, float lod) {
    if (!u_yuv) return textureLod(u_panorama, uv, lod).rgb;
    float chroma_lod = max(lod - 1.0, 0.0);  // the chroma planes have half the texels
    vec3 colour = rgb_of(textureLod(u_y, uv, lod).r, textureLod(u_u, uv, chroma_lod).r, textureLod(u_v, uv, chroma_lod).r);
    if (u_loop_blend > 0.0) {
        vec3 first = rgb_of(textureLod(u_first_y, uv, lod).r, textureLod(u_first_u, uv, chroma_lod).r,
                            textureLod(u_first_v, uv, chroma_lod).r);
        colour = mix(colour, first, u_loop_blend);
    }
    return colour;
}

void main() {
    vec4 far_point = u_inv_view_proj * vec4(v_ndc, 1.0, 1.0);
    vec3 d = normalize(far_point.xyz / far_point.w - u_eye_pos);
    vec2 uv = equirect(d);
    // Level of detail from the pixel's angular size, not from the derivatives of uv: those jump at the
    // seam (u wraps from 1 to 0) and blow up at the poles, where the hardware would pick a blurred mip
    // level and draw a line or a smudge. The direction itself is smooth everywhere.
    float angle = max(length(dFdx(d)), length(dFdy(d)));
    float lod = max(log2(angle * u_media_texels.y / PI), 0.0);
    vec3 world = picture(in_picture(uv), lod);
    // Calm: a little darker and warmer as the client settles, never a visible step.
    world *= mix(vec3(1.0), vec3(0.86, 0.82, 0.76), 0.6 * clamp(u_calm, 0.0, 1.0));

    // The breathing guide: a soft halo where the resting client looks (overhead lying face-up, below
    // face-down, ahead seated), swelling and brightening with the breath.
    float breath = clamp(u_breath, 0.0, 1.0);
    vec3 guide_dir = normalize(u_rest_forward - 0.12 * u_rest_up);
    float off_axis = acos(clamp(dot(d, guide_dir), -1.0, 1.0));
    float radius = mix(0.045, 0.085, breath);
    float halo = exp(-0.5 * pow(off_axis / radius, 2.0)) * mix(0.25, 0.55, breath);
    vec3 glow = vec3(1.0, 0.86, 0.66) * halo;
    vec3 colour = world * (1.0 - 0.5 * halo) + glow;
    frag_color = vec4(colour * u_fade, 1.0);
}
