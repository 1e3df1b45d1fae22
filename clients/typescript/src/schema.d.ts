// Generated from src/service/openapi.json by clients/typescript/scripts/generate.mjs
// (openapi-typescript, pinned in package.json); do not edit: run `npm run generate`.
export interface paths {
    "/v1/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The service is up */
        get: operations["health"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This document */
        get: operations["openapi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/version": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Versions, embedding model, threshold, index */
        get: operations["version"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/people": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** People by name, a page at a time */
        get: operations["listPeople"];
        put?: never;
        /** Create a person (no faces yet) */
        post: operations["createPerson"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/people/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a person's id */
                id: components["parameters"]["PersonId"];
            };
            cookie?: never;
        };
        /** One person */
        get: operations["getPerson"];
        put?: never;
        post?: never;
        /** Delete a person and their faces */
        delete: operations["deletePerson"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/people/{id}/faces": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a person's id */
                id: components["parameters"]["PersonId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Enrol the largest face of an image to a person (refused below the quality floor unless forced) */
        post: operations["addFace"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/identify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Every face in the image with its best candidates; identity null when unknown */
        post: operations["identify"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Same person? Image a against image b, or against an enrolled person */
        post: operations["verify"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The web console */
        get: operations["consolePage"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/console/console.js": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The web console's script */
        get: operations["consoleScript"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/console/console.css": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The web console's style sheet */
        get: operations["consoleStyle"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * Format: binary
         * @description image bytes: JPEG, PNG, BMP, WebP, TIFF, PNM, ...
         */
        Binary: string;
        ImageForm: {
            image: components["schemas"]["Binary"];
        };
        /** @description a and b, or a and person */
        VerifyForm: {
            a: components["schemas"]["Binary"];
            b?: components["schemas"]["Binary"];
            person?: number;
        };
        Error: {
            error: {
                /** @description the HTTP status, again */
                status: number;
                /** @description stable, machine-readable */
                code: string;
                /** @description for people: what was wrong and what to do */
                message: string;
                /** @description low_quality: the refused face's quality */
                quality?: components["schemas"]["Quality"];
                /** @description low_quality: the floor it was below */
                floor?: number;
            };
        };
        Health: {
            /** @constant */
            status: "ok";
        };
        Version: {
            facerec: string;
            /** @description the embedding model of the gallery's templates */
            embedder: string;
            /** @description e.g. fmr_1e-3 */
            operating_point: string;
            /** @description cosine similarity at or above which two faces are the same person */
            threshold: number;
            index: string;
            templates: number;
            pipelines: number;
            liveness: {
                default: boolean;
                model: string | null;
            };
            blas: string;
        };
        NewPerson: {
            name: string;
            /** @description any JSON (at most 16 KiB as text); a string is kept as free text */
            metadata?: unknown;
        };
        Person: {
            id: number;
            name: string;
            /** @description as given at creation; null when none */
            metadata: unknown;
            /** @description enrolled faces */
            templates: number;
        };
        PeoplePage: {
            people: components["schemas"]["Person"][];
            /** @description people matching the query (all pages) */
            total: number;
            offset: number;
            limit: number;
            /** @description the name filter, when one was given */
            name?: string;
        };
        Deleted: {
            deleted: number;
        };
        /** @description pixels of the image as sent */
        Box: {
            x: number;
            y: number;
            width: number;
            height: number;
        };
        DetectedFace: {
            box: components["schemas"]["Box"];
            /** @description detector confidence */
            score: number;
            quality: components["schemas"]["Quality"];
        };
        AddedFace: {
            person: components["schemas"]["Person"];
            /** @description the enrolled face's quality score, as the gallery stores it */
            quality: number;
            face: components["schemas"]["DetectedFace"];
            /** @description e.g. that the image held several faces and the largest was taken */
            note?: string;
        };
        Candidate: {
            id: number;
            name: string;
            /** @description cosine similarity */
            similarity: number;
        };
        /** @description presentation-attack check of a face: score (higher: more likely live, the model's own scale), live = score >= threshold (calibrated on NUAA; see the README for what it is worth) */
        Liveness: {
            score: number;
            live: boolean;
            threshold: number;
            model: string;
        };
        IdentifiedFace: {
            box: components["schemas"]["Box"];
            /** @description detector confidence */
            score: number;
            quality: components["schemas"]["Quality"];
            /** @description the best candidate when it reaches the threshold; null: unknown */
            identity: components["schemas"]["Candidate"] | null;
            /** @description best first */
            candidates: components["schemas"]["Candidate"][];
            liveness?: components["schemas"]["Liveness"];
        };
        Identification: {
            faces: components["schemas"]["IdentifiedFace"][];
            model: string;
            threshold: number;
            operating_point: string;
        };
        Verification: {
            /** @description cosine similarity (against a person: their best-matching face) */
            similarity: number;
            /** @description similarity >= threshold */
            same: boolean;
            threshold: number;
            operating_point: string;
            model: string;
            /** @description "image b", or the person compared with */
            against: "image b" | components["schemas"]["Person"];
            liveness?: {
                a: components["schemas"]["Liveness"];
                b?: components["schemas"]["Liveness"];
            };
        };
        /** @description a face's quality: the score, its components (1 good) and the measurements they come from (README: Face quality) */
        Quality: {
            /** @description [0, 1]: the estimated probability that this face matches a good photo of the same person at the fmr_1e-3 threshold (a fitted model); -1: not assessed */
            score: number;
            /** @description component in [0, 1]: (interocular - 10) / 30 */
            size: number;
            /** @description component in [0, 1]: (log10(laplacian) - 1) / 1.5 */
            sharpness: number;
            /** @description component in [0, 1]: brightness, clipping and contrast */
            exposure: number;
            /** @description component in [0, 1]: 1 - max(|yaw|, |pitch|) / 60 */
            pose: number;
            /** @description pixels between the eye centres */
            interocular: number;
            /** @description variance of the Laplacian of the 112x112 aligned grey crop */
            laplacian: number;
            /** @description mean grey level of the face, [0, 1] */
            brightness: number;
            /** @description standard deviation of the face's grey levels, [0, 1] */
            contrast: number;
            /** @description share of the face's pixels at <= 5 or >= 250 */
            clipped: number;
            /** @description degrees, approximate (from five points) */
            yaw: number;
            /** @description degrees, approximate */
            pitch: number;
            /** @description degrees */
            roll: number;
            /** @description the detector's score */
            detection: number;
        };
    };
    responses: {
        /** @description an error (see `code`) */
        Error: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
    };
    parameters: {
        /** @description a person's id */
        PersonId: number;
        /** @description add a liveness (presentation-attack) check of each face; default: the server's --liveness. 400 liveness_unavailable when the server has no liveness model */
        Liveness: boolean;
    };
    requestBodies: {
        /** @description an image: the raw body, or the multipart file field `image` */
        Image: {
            content: {
                "image/*": components["schemas"]["Binary"];
                "application/octet-stream": components["schemas"]["Binary"];
                "multipart/form-data": components["schemas"]["ImageForm"];
            };
        };
    };
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    health: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description up */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    openapi: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the OpenAPI 3.1 document */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            default: components["responses"]["Error"];
        };
    };
    version: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description versions */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Version"];
                };
            };
            401: components["responses"]["Error"];
            default: components["responses"]["Error"];
        };
    };
    listPeople: {
        parameters: {
            query?: {
                /** @description how many matching people to skip */
                offset?: number;
                /** @description the most people to return */
                limit?: number;
                /** @description only people whose name contains this text (case-insensitive for ASCII letters) */
                name?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description a page of people, sorted by name */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PeoplePage"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            default: components["responses"]["Error"];
        };
    };
    createPerson: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["NewPerson"];
            };
        };
        responses: {
            /** @description created; Location names the person */
            201: {
                headers: {
                    /** @description /v1/people/{id} */
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Person"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            409: components["responses"]["Error"];
            default: components["responses"]["Error"];
        };
    };
    getPerson: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a person's id */
                id: components["parameters"]["PersonId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the person */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Person"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            404: components["responses"]["Error"];
            default: components["responses"]["Error"];
        };
    };
    deletePerson: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description a person's id */
                id: components["parameters"]["PersonId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description deleted */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Deleted"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            404: components["responses"]["Error"];
            default: components["responses"]["Error"];
        };
    };
    addFace: {
        parameters: {
            query?: {
                /** @description enrol the face even below the service's quality floor (otherwise 422 low_quality, with the face's quality) */
                force?: boolean;
            };
            header?: never;
            path: {
                /** @description a person's id */
                id: components["parameters"]["PersonId"];
            };
            cookie?: never;
        };
        requestBody: components["requestBodies"]["Image"];
        responses: {
            /** @description enrolled */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AddedFace"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            404: components["responses"]["Error"];
            413: components["responses"]["Error"];
            415: components["responses"]["Error"];
            422: components["responses"]["Error"];
            default: components["responses"]["Error"];
        };
    };
    identify: {
        parameters: {
            query?: {
                /** @description candidates per face */
                top?: number;
                /** @description add a liveness (presentation-attack) check of each face; default: the server's --liveness. 400 liveness_unavailable when the server has no liveness model */
                liveness?: components["parameters"]["Liveness"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: components["requestBodies"]["Image"];
        responses: {
            /** @description the faces found */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Identification"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            413: components["responses"]["Error"];
            415: components["responses"]["Error"];
            422: components["responses"]["Error"];
            default: components["responses"]["Error"];
        };
    };
    verify: {
        parameters: {
            query?: {
                /** @description compare image a (the raw body, or field a) with this person's faces instead of with image b */
                person?: number;
                /** @description add a liveness (presentation-attack) check of each face; default: the server's --liveness. 400 liveness_unavailable when the server has no liveness model */
                liveness?: components["parameters"]["Liveness"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "multipart/form-data": components["schemas"]["VerifyForm"];
                "image/*": components["schemas"]["Binary"];
                "application/octet-stream": components["schemas"]["Binary"];
            };
        };
        responses: {
            /** @description the decision */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Verification"];
                };
            };
            400: components["responses"]["Error"];
            401: components["responses"]["Error"];
            404: components["responses"]["Error"];
            413: components["responses"]["Error"];
            415: components["responses"]["Error"];
            422: components["responses"]["Error"];
            default: components["responses"]["Error"];
        };
    };
    consolePage: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the console's page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            default: components["responses"]["Error"];
        };
    };
    consoleScript: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description script */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/javascript": string;
                };
            };
            default: components["responses"]["Error"];
        };
    };
    consoleStyle: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description style sheet */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/css": string;
                };
            };
            default: components["responses"]["Error"];
        };
    };
}
