#version 330 core
// Forest canopy at dusk: lying on the forest floor (or sitting among the trunks) under layers of
// leaves at 7-21 m that sway very slowly, with the evening sky showing through the gaps and a few
// fireflies drifting below the leaves. World in metres: +Y up, ground y = 0, the afterglow of the
// set sun low ahead along -Z. Every layer and trunk is intersected in 3D, so stereo depth is right.
in vec2 v_ndc;
out vec4 frag_color;

uniform float u_time;
uniform float u_breath;
uniform float u_calm;
uniform float u_fade;
uniform mat4 u_inv_view_proj;
uniform vec3 u_eye_pos;
uniform vec2 u_resolution;

const float PI = 3.14159265;
const vec3 GLOW_DIR = vec3(0.2873, 0.0479, -0.9566);  // where the sun went down
const int LAYERS = 3;
const float TRUNK_CELL_M = 5.0;
const int TRUNK_STEPS = 14;
const int FIREFLIES = 9;
const float FAR_M = 400.0;

// Set once per pixel in main().
float g_pixel_angle;
float g_breath;
float g_light;  // how much evening light reaches the forest: swells with the breath
vec3 g_haze;    // haze(d) for this pixel's ray

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

vec4 hash42(vec2 p) {
    vec4 p4 = fract(vec4(p.xyxy) * vec4(0.1031, 0.1030, 0.0973, 0.1099));
    p4 += dot(p4, p4.wzxy + 33.33);
    return fract((p4.xxyz + p4.yzzw) * p4.zywx);
}

vec3 hash31(float n) {
    vec3 p3 = fract(vec3(n) * vec3(0.1031, 0.1030, 0.0973));
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.xxy + p3.yzz) * p3.zyx);
}

float noise2(vec2 x) {
    vec2 i = floor(x);
    vec2 f = fract(x);
    vec2 u = f * f * (3.0 - 2.0 * f);
    float a = hash12(i);
    float b = hash12(i + vec2(1.0, 0.0));
    float c = hash12(i + vec2(0.0, 1.0));
    float d = hash12(i + vec2(1.0, 1.0));
    return mix(mix(a, b, u.x), mix(c, d, u.x), u.y);
}

float fbm2(vec2 p) {
    float sum = 0.0;
    float amp = 0.5;
    mat2 turn = mat2(0.8, -0.6, 0.6, 0.8);
    for (int i = 0; i < 4; i++) {
        sum += amp * noise2(p);
        p = turn * p * 2.05 + 3.1;
        amp *= 0.5;
    }
    return sum / 0.9375;
}

// Evening sky: a warm afterglow low toward the set sun, fading up to a soft blue-violet.
vec3 sky(vec3 d) {
    float e = max(d.y, 0.0);
    float toward = dot(normalize(d.xz + vec2(1e-5)), normalize(GLOW_DIR.xz)) * 0.5 + 0.5;
    vec3 zenith = vec3(0.021, 0.029, 0.060);
    vec3 low = vec3(0.030, 0.032, 0.056);
    vec3 glow = vec3(0.160, 0.080, 0.040);
    vec3 col = mix(low, zenith, smoothstep(0.0, 0.7, e));
    col += glow * (toward * toward * toward) * exp(-e * 5.0);
    return col * g_light;
}

// Dusky air between the trees: takes the sky's colour near the horizon.
vec3 haze(vec3 d) {
    return sky(normalize(vec3(d.x, 0.08, d.z))) * 0.24;
}

// Tree crowns: a Voronoi pattern around the trunk cells. Neighbouring crowns keep a little apart
// ("crown shyness"), so winding channels of sky open between them. Returns the distance (m) from p
// to the nearest gap between crowns.
float crown_interior(vec2 p) {
    p += vec2(2.3, 1.7);  // crowns lean off their trunks; this also keeps a crown edge off the zenith
    vec2 cell = floor(p / TRUNK_CELL_M);
    // One 3x3 pass keeping the nearest two crown centres; the gap is taken halfway between them
    // along the line joining them (close to the exact Voronoi border, at a third of the cost).
    float best = 1e9;
    float second = 1e9;
    vec2 nearest = vec2(0.0);
    vec2 runner_up = vec2(0.0);
    for (int j = -1; j <= 1; j++) {
        for (int i = -1; i <= 1; i++) {
            vec2 c = cell + vec2(i, j);
            vec2 centre = (c + 0.2 + 0.6 * hash42(c * 1.37 + 4.1).xy) * TRUNK_CELL_M;
            float dist = dot(p - centre, p - centre);
            bool closer = dist < best;
            runner_up = closer ? nearest : (dist < second ? centre : runner_up);
            second = closer ? best : min(second, dist);
            best = closer ? dist : best;
            nearest = closer ? centre : nearest;
        }
    }
    vec2 to_other = runner_up - nearest;
    return dot(0.5 * (nearest + runner_up) - p, to_other * inversesqrt(max(dot(to_other, to_other), 1e-4)));
}

// One canopy layer's leaves at plane point p (m). Returns coverage 0..1, filtered to the pixel
// `footprint` (m): leaves smaller than about a pixel merge into their average cover.
float clumping(vec2 p, float leaf_m, float fullness, float seed, out float glint) {
    vec2 q = p / (leaf_m * 9.0) + seed;
    float clumps = 0.65 * noise2(q) + 0.35 * noise2(q * 2.3 + 1.7);
    glint = 0.5 + 0.5 * sin(clumps * 23.0 + seed);  // some sprays of leaves turned more to the light
    return smoothstep(0.30, 0.70, clumps + fullness);
}

float leaf_cover(vec2 p, float leaf_m, float fullness, float gap_m, float footprint, float seed,
                 out float glint) {
    // Where the sky channels are finer than the pixel they blur into an even, mostly leafy cover.
    float inside = crown_interior(p) - gap_m * (0.6 + 0.8 * noise2(p * 0.7 + seed));
    float crown = smoothstep(-footprint, 0.5 + footprint, inside);
    crown = mix(crown, 0.85, smoothstep(0.25, 0.8, footprint / gap_m));
    float wanted = clumping(p, leaf_m, fullness, seed, glint) * crown;  // how leafy this part of the canopy is
    float detail = smoothstep(0.9, 0.25, footprint / leaf_m);
    if (detail <= 0.0) return wanted * 0.8;
    vec2 grid = p / leaf_m;
    vec2 cell = floor(grid);
    float cover = 0.0;
    float aa = max(footprint / leaf_m, 0.02);
    for (int j = -1; j <= 1; j++) {
        for (int i = -1; i <= 1; i++) {
            vec2 c = cell + vec2(i, j);
            vec4 h = hash42(c + seed * 13.1);
            vec2 centre = c + 0.2 + 0.6 * h.xy;
            // The leafiness at this pixel stands in for the leaf's own (it varies over ~9 leaves).
            if (h.z > wanted * 1.1) continue;
            float angle = h.w * 2.0 * PI;
            vec2 q = mat2(cos(angle), sin(angle), -sin(angle), cos(angle)) * (grid - centre);
            float size = 0.8 + 0.35 * fract(h.w * 7.3);
            q /= size;
            // A pointed leaf: an ellipse pinched toward both tips.
            float half_width = 0.42 * (1.0 - q.x * q.x);
            float dist = max(abs(q.y) - max(half_width, 0.0), abs(q.x) - 1.0) * size;
            cover = max(cover, smoothstep(aa, -aa, dist));
        }
    }
    return mix(wanted * 0.8, cover, detail);
}

// Twigs and branches holding the lower layers: thin ridges of noise, widened to the pixel.
float branch_cover(vec2 p, float footprint, float seed) {
    float n = noise2(p * 0.45 + seed) * 0.6 + noise2(p * 1.1 + seed * 2.0) * 0.4;
    float ridge = abs(n - 0.5);
    float width = 0.012 + 0.5 * footprint * 0.45;
    float line = smoothstep(width, width * 0.4, ridge);
    return line * min(0.012 / width + 0.3, 1.0);
}

// Colour, coverage and distance of canopy layer k along the ray.
vec4 canopy_layer(int k, vec3 d, out float t) {
    const float heights[LAYERS] = float[LAYERS](8.0, 13.0, 19.5);
    const float leaf_sizes[LAYERS] = float[LAYERS](0.24, 0.36, 0.56);
    const float fullness[LAYERS] = float[LAYERS](0.01, 0.08, 0.16);
    const float gaps[LAYERS] = float[LAYERS](0.85, 0.65, 0.45);
    float h = heights[k];
    t = (h - u_eye_pos.y) / max(d.y, 1e-4);
    if (d.y <= 0.0 || t > FAR_M) { t = 1e9; return vec4(0.0); }
    vec3 p = u_eye_pos + d * t;
    float footprint = t * g_pixel_angle / max(d.y, 0.03);
    float seed = float(k) * 5.7;

    // Slow sway: higher boughs swing further; a long, slow gust passes through them.
    float sway_scale = (0.05 + 0.035 * h) * mix(1.0, 0.45, u_calm);
    float gust = sin(u_time * 0.21 + dot(p.xz, vec2(0.05, 0.03)) + seed);    // 0.033 Hz
    vec2 sway = sway_scale * vec2(sin(u_time * 0.31 + seed) + 0.6 * gust,     // 0.049 Hz
                                  0.6 * sin(u_time * 0.26 + seed * 1.7) + 0.3 * gust);
    vec2 q = p.xz + sway;

    float glint;
    float cover = leaf_cover(q, leaf_sizes[k], fullness[k], gaps[k], footprint, seed, glint);
    if (k < 2) cover = max(cover, branch_cover(q, footprint, seed));

    // Seen from below the leaves glow a little with the sky light they pass on; lower layers sit
    // in the shade of the upper ones.
    float lit = (0.35 + 0.65 * float(k) / float(LAYERS - 1));
    vec3 leaf = vec3(0.0025, 0.0035, 0.0018) + vec3(0.008, 0.016, 0.004) * lit * glint * g_light;
    float fog = 1.0 - exp(-t / 70.0);
    return vec4(mix(leaf, g_haze, fog), cover);
}

// The nearest trunk along the ray (2D grid walk over the trunk cells), or 1e9.
float trunk_hit(vec3 d, out vec3 normal, out float bark_seed) {
    vec2 o = u_eye_pos.xz;
    vec2 dir = d.xz;
    float flat_len = length(dir);
    normal = vec3(0.0);
    bark_seed = 0.0;
    if (flat_len < 1e-4) return 1e9;
    vec2 cell = floor(o / TRUNK_CELL_M);
    vec2 step_dir = sign(dir);
    vec2 inv = 1.0 / max(abs(dir), vec2(1e-6));
    vec2 next = ((cell + max(step_dir, 0.0)) * TRUNK_CELL_M - o) * step_dir * inv;
    vec2 delta = TRUNK_CELL_M * inv;
    // Stop where the ray leaves the height band the trunks stand in (tops at 19 m, or the ground).
    float t_exit = min(d.y > 0.0 ? (19.0 - u_eye_pos.y) / d.y : (u_eye_pos.y + 0.5) / max(-d.y, 1e-4), FAR_M);
    for (int i = 0; i < TRUNK_STEPS; i++) {
        vec4 h = hash42(cell * 1.37 + 4.1);
        vec2 centre = (cell + 0.2 + 0.6 * h.xy) * TRUNK_CELL_M;
        float radius = 0.16 + 0.28 * h.z;
        bool clearing = length(centre - o) < 3.0;  // room to lie down
        if (h.w < 0.55 && !clearing) {
            vec2 oc = o - centre;
            float b = dot(oc, dir);
            float a = dot(dir, dir);
            float c = dot(oc, oc) - radius * radius;
            float disc = b * b - a * c;
            if (disc > 0.0) {
                float t = (-b - sqrt(disc)) / a;
                float y = u_eye_pos.y + d.y * t;
                if (t > 0.0 && y > -0.5 && y < 19.0) {
                    vec2 hit = o + dir * t;
                    normal = vec3(normalize(hit - centre), 0.0).xzy;
                    bark_seed = h.z * 91.0;
                    return t;
                }
            }
        }
        if (next.x < next.y) { cell.x += step_dir.x; next.x += delta.x; }
        else { cell.y += step_dir.y; next.y += delta.y; }
        if (min(next.x, next.y) > t_exit) break;
    }
    return 1e9;
}

vec3 trunk_colour(vec3 d, float t, vec3 n, float bark_seed) {
    vec3 p = u_eye_pos + d * t;
    float footprint = t * g_pixel_angle;
    float around = atan(n.z, n.x);
    // Vertical bark furrows, faded where they are finer than the pixel.
    float furrow_kept = smoothstep(0.12, 0.03, footprint);
    float bark = mix(0.5, noise2(vec2(around * 9.0 + bark_seed, p.y * 0.8)), furrow_kept);
    float rim = pow(max(dot(n, normalize(vec3(GLOW_DIR.x, 0.0, GLOW_DIR.z))), 0.0), 2.0);
    float sky_side = 0.5 + 0.5 * n.y;
    vec3 col = vec3(0.0030, 0.0026, 0.0022) * (0.6 + 0.8 * bark);
    col += vec3(0.014, 0.009, 0.005) * rim * g_light;
    col += vec3(0.002, 0.0025, 0.004) * sky_side * g_light;
    float fog = 1.0 - exp(-t / 45.0);
    return mix(col, g_haze, fog);
}

vec3 forest_floor(vec3 d) {
    float t = u_eye_pos.y / max(-d.y, 1e-4);
    vec3 p = u_eye_pos + d * t;
    float footprint = t * g_pixel_angle / max(-d.y, 0.05);
    float kept = smoothstep(0.6, 0.1, footprint);
    float litter = mix(0.5, fbm2(p.xz * 1.7), kept);
    float moss = noise2(p.xz * 0.25);
    vec3 col = mix(vec3(0.0040, 0.0032, 0.0024), vec3(0.0030, 0.0045, 0.0024), moss) * (0.6 + 0.8 * litter);
    col *= g_light;
    float fog = 1.0 - exp(-t / 45.0);
    return mix(col, g_haze, fog);
}

// Fireflies drifting below the leaves, each glowing up and fading over many seconds.
vec3 fireflies(vec3 d, float t_max) {
    float light = 0.0;
    float drift = mix(1.0, 0.6, u_calm);
    const float size = 0.012;
    for (int i = 0; i < FIREFLIES; i++) {
        vec3 r = hash31(float(i) * 7.13 + 2.0);
        float glow = 0.5 - 0.5 * cos(u_time * (0.25 + 0.15 * r.y) + r.z * 20.0);  // 0.04-0.06 Hz
        glow = glow * glow;
        if (glow < 0.003) continue;  // the same for every pixel: a dark firefly costs nothing
        vec3 home = vec3((r.x - 0.5) * 14.0, 0.8 + 5.5 * r.y, (r.z - 0.5) * 14.0 - 2.0);
        float phase = u_time * (0.035 + 0.03 * r.z) + r.x * 30.0;
        vec3 p = home + drift * vec3(0.8 * sin(phase), 0.35 * sin(phase * 1.3 + r.y * 6.0),
                                     0.8 * sin(phase * 0.8 + r.z * 9.0));
        vec3 to_fly = p - u_eye_pos;
        float along = dot(to_fly, d);
        float miss2 = max(dot(to_fly, to_fly) - along * along, 0.0);
        float width = max(size, along * g_pixel_angle * 1.2);
        float core = 0.5 * (size * size) / (width * width) * exp(-miss2 / (width * width));
        float halo = 0.010 * exp(-miss2 * 20.0);
        light += (along > 0.0 && along < t_max) ? glow * (core + halo) : 0.0;
    }
    return vec3(0.75, 0.95, 0.35) * light;
}

void main() {
    vec4 far_point = u_inv_view_proj * vec4(v_ndc, 1.0, 1.0);
    vec3 d = normalize(far_point.xyz / far_point.w - u_eye_pos);
    g_pixel_angle = length(fwidth(d)) * 0.7;
    g_breath = smoothstep(0.0, 1.0, clamp(u_breath, 0.0, 1.0));
    g_light = mix(0.72, 1.0, g_breath) * mix(1.0, 0.9, u_calm);
    g_haze = haze(d);

    vec3 n;
    float bark_seed;
    float t_trunk = trunk_hit(d, n, bark_seed);
    vec3 behind;
    float t_behind = t_trunk;
    if (t_trunk < 1e8) {
        behind = trunk_colour(d, t_trunk, n, bark_seed);
    } else if (d.y < 0.0) {
        behind = forest_floor(d);
        t_behind = u_eye_pos.y / max(-d.y, 1e-4);
    } else {
        behind = mix(g_haze, sky(d), smoothstep(0.0, 0.35, d.y));  // far trees fade into the dusk
    }

    // Canopy layers front to back (the lowest is nearest along any upward ray).
    vec3 col = vec3(0.0);
    float through = 1.0;
    for (int k = 0; k < LAYERS; k++) {
        float t;
        vec4 layer = canopy_layer(k, d, t);
        if (t >= t_behind) break;
        col += through * layer.a * layer.rgb;
        through *= 1.0 - layer.a;
        if (through < 0.01) break;
    }
    col += through * behind;
    col += fireflies(d, t_trunk);

    col = 1.0 - exp(-col * 1.2);
    col = pow(col, vec3(1.0 / 2.2));
    float dither = (hash12(gl_FragCoord.xy + fract(u_time) * 91.0) - 0.5) / 255.0;
    frag_color = vec4(max(col + dither, 0.0) * clamp(u_fade, 0.0, 1.0), 1.0);
}
